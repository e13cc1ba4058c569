"""A webhook receiver on 127.0.0.1 that checks outbox signatures and records what it accepted.

``with WebhookReceiver(secret="s") as receiver: receiver.url`` — every POST is
checked against ``secret`` (``X-Webhook-Signature``); a valid one is answered
200 and recorded in :attr:`WebhookReceiver.events` (with the time it arrived), an invalid one 401 (and
recorded in :attr:`WebhookReceiver.rejected`).  :meth:`WebhookReceiver.fail_next`
answers the next requests with ``500`` or after ``slow`` seconds of silence.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from integrations.outbox.signing import EVENT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_valid
from tests.fakes.http import FakeServiceHandler, QuietThreadingServer, serve_in_background, stop_serving


@dataclass
class Received:
    body: dict[str, Any]
    headers: dict[str, str]
    raw: bytes
    at: float = field(default_factory=time.time)  # unix time the request was read, for latency measurements


@dataclass
class WebhookReceiver:
    secret: str
    host: str = "127.0.0.1"
    port: int = 0
    events: list[Received] = field(default_factory=list)
    rejected: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[tuple[str, float]] = []
        self._server: QuietThreadingServer | None = None
        self.requests = 0

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(_Handler):
            owner = receiver

        server = self._server = serve_in_background(
            Handler, host=self.host, port=self.port, name="fake-webhook-receiver"
        )
        self.port = server.server_address[1]
        return self

    def stop(self) -> None:
        if self._server:
            stop_serving(self._server)
            self._server = None

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/hooks/outbox"

    def fail_next(self, kind: str = "500", times: int = 1, *, seconds: float = 2.0) -> None:
        """Answer the next ``times`` requests with ``kind``: ``500``, or ``slow`` (silent for ``seconds``, then 200)."""
        with self._lock:
            self._faults.extend([(kind, seconds)] * times)

    def _take_fault(self) -> tuple[str, float] | None:
        with self._lock:
            self.requests += 1
            return self._faults.pop(0) if self._faults else None

    def event_ids(self) -> list[str]:
        with self._lock:
            return [received.body["event_id"] for received in self.events]


class _Handler(FakeServiceHandler):
    owner: WebhookReceiver

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        received = Received(json.loads(raw or b"{}"), dict(self.headers.items()), raw)
        fault = self.owner._take_fault()
        if fault and fault[0] == "500":
            return self._answer(500)
        if fault and fault[0] == "slow":
            time.sleep(fault[1])
        valid = signature_valid(self.owner.secret, raw, self.headers.get(SIGNATURE_HEADER))
        complete = bool(self.headers.get(TIMESTAMP_HEADER)) and bool(self.headers.get(EVENT_ID_HEADER))
        with self.owner._lock:
            (self.owner.events if valid and complete else self.owner.rejected).append(received)
        self._answer(200 if valid and complete else 401)

    def _answer(self, status: int) -> None:
        body = b"{}"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
