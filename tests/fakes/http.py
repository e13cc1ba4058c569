"""What every fake service of the tests shares: a threaded HTTP/1.1 server and a handler base."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class QuietThreadingServer(ThreadingHTTPServer):
    """One thread per connection; resets and clients that hang up or give up waiting are part of the game."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        return


def serve_in_background(
    handler: type[BaseHTTPRequestHandler], *, host: str, port: int, name: str
) -> QuietThreadingServer:
    """Bind ``host:port`` (0: any free port) and serve on a daemon thread until :func:`stop_serving`."""
    server = QuietThreadingServer((host, port), handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True).start()
    return server


def stop_serving(server: QuietThreadingServer) -> None:
    server.shutdown()
    server.server_close()


class FakeServiceHandler(BaseHTTPRequestHandler):
    """Keep-alive HTTP/1.1 without Nagle's delay, no access log; GET and POST both go to ``_handle``."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        raise NotImplementedError


def write_env(path: Path, variables: dict[str, str]) -> None:
    """Set ``variables`` in a dotenv file: replace their lines, append the missing ones, keep the rest."""
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    kept = [line for line in lines if line.split("=", 1)[0].strip() not in variables]
    path.write_text("\n".join([*kept, *(f"{name}={value}" for name, value in variables.items())]) + "\n")
