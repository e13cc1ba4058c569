"""A forwarding HTTP proxy on 127.0.0.1 for tests of ``CHATGPT_PROXY_URL``.

Clients send it absolute-form requests (``POST http://host:port/path``), as
they do for plain-HTTP targets behind a proxy; it forwards each one and
records it in :attr:`ForwardingProxy.requests`.  ``CONNECT`` (HTTPS tunnels)
is refused: the fakes speak plain HTTP.
"""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

# Hop-by-hop headers (RFC 9110 §7.6.1) are not forwarded.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authorization", "proxy-connection", "te", "trailer", "upgrade"}


class ForwardingProxy:
    def __init__(self, host: str = "127.0.0.1"):
        self.host = host
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://{self.host}:{self._server.server_address[1]}"

    def start(self) -> ForwardingProxy:
        proxy = self

        class Handler(_Handler):
            owner = proxy

        self._server = ThreadingHTTPServer((self.host, 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> ForwardingProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def record(self, line: str) -> None:
        with self._lock:
            self.requests.append(line)


class _Handler(BaseHTTPRequestHandler):
    owner: ForwardingProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_CONNECT(self) -> None:
        self.owner.record(f"CONNECT {self.path}")
        self._answer(405, {"Content-Type": "text/plain"}, b"CONNECT is not supported")

    def do_GET(self) -> None:
        self._forward()

    def do_POST(self) -> None:
        self._forward()

    def _forward(self) -> None:
        target = urlsplit(self.path)
        self.owner.record(f"{self.command} {self.path}")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {name: value for name, value in self.headers.items() if name.lower() not in HOP_BY_HOP}
        upstream = http.client.HTTPConnection(target.hostname or "", target.port, timeout=30)
        try:
            path = target.path + (f"?{target.query}" if target.query else "")
            upstream.request(self.command, path, body=body, headers=headers)
            response = upstream.getresponse()
            data = response.read()
            kept = {
                name: value
                for name, value in response.getheaders()
                if name.lower() not in HOP_BY_HOP | {"content-length", "transfer-encoding"}
            }
        except OSError:
            self._answer(502, {"Content-Type": "text/plain"}, b"upstream unreachable")
            return
        finally:
            upstream.close()
        self._answer(response.status, kept, data)

    def _answer(self, status: int, headers: dict[str, str], data: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
