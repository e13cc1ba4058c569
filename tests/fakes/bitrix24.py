"""A fake Bitrix24 portal: a real HTTP server on 127.0.0.1 with the shapes of the real REST API.

What it serves (inbound webhook ``/rest/<user>/<token>/<method>[.json]``):

- ``voximplant.statistic.get``: ``FILTER[>=CALL_START_DATE]`` / ``FILTER[<=CALL_START_DATE]``
  (unknown filter keys are ignored, as the portal does), ``SORT``/``ORDER``,
  pages of 50 with ``result``, ``next`` and ``total``;
- ``batch``: up to 50 ``cmd[key]=method?query`` commands, ``halt``, answering
  ``result.result`` / ``result_error`` / ``result_total`` / ``result_next``;
- ``disk.file.get``: ``DOWNLOAD_URL`` of a recording, as the portal gives it
  (``/rest/download.json?auth=<access key>&token=disk|…``);
- ``tasks.task.add`` / ``update`` / ``complete`` / ``list`` (JSON bodies): tasks kept in
  :attr:`FakeBitrix24.tasks` by id, ``list`` filtering on ``XML_ID``;
- recordings as small WAV files at real-portal URLs that carry the portal's access key:
  ``CALL_RECORD_URL`` is ``/disk/downloadFile/<RECORD_FILE_ID>/?ncc=1&filename=<CALL_ID>.wav&auth=<key>``;
  a download without the right ``auth`` answers 401, as the portal does.  ``/recordings/<CALL_ID>`` and
  ``/disk/download/<ID>`` (no key) stay for tests that build URLs by hand.

Slow portals: :attr:`FakeBitrix24.slow_batch_above` makes a ``batch`` of more commands
than that answer only after :attr:`FakeBitrix24.slow_batch_seconds`; batch sizes are logged
in :attr:`FakeBitrix24.batch_sizes`.  Empty maps in ``batch`` answers are ``[]``, as on the portal.

Limits and errors: a leaky bucket (50 requests burst, drained at 2 per second by
default) answering 503 ``QUERY_LIMIT_EXCEEDED``; a wrong user or token answers
401 ``NO_AUTH_FOUND``.  Faults are injected with :meth:`FakeBitrix24.fail_next`,
:attr:`FakeBitrix24.fault_rate` or :attr:`FakeBitrix24.recording_faults`.

Run by hand: ``python -m tests.fakes.bitrix24 --port 8765 --calls 500 --env-file .env``
(``--port 0`` takes a free port; the ``--env-file`` then says which — ``make demo`` starts it so).
"""

from __future__ import annotations

import argparse
import bisect
import dataclasses
import json
import random
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.audio import wav_bytes
from tests.fakes.http import FakeServiceHandler, QuietThreadingServer, serve_in_background, stop_serving, write_env

PAGE_SIZE = 50
BATCH_LIMIT = 50
MOSCOW = timezone(timedelta(hours=3))
DEFAULT_TOKEN = "fake-webhook-token-0123456789"
DEFAULT_ACCESS_KEY = "fake-access-key-9876543210abcdef"
RETRYABLE_FAULTS = ("429", "500", "query_limit", "reset")

FAULTS: dict[str, tuple[int, dict[str, Any] | None]] = {
    "429": (429, {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}),
    "500": (500, {"error": "INTERNAL_SERVER_ERROR", "error_description": "Internal server error"}),
    "502": (502, None),
    "query_limit": (503, {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}),
    "operation_time_limit": (
        503,
        {"error": "OPERATION_TIME_LIMIT", "error_description": "Method is blocked due to operation time limit."},
    ),
    "401": (401, {"error": "NO_AUTH_FOUND", "error_description": "Wrong authorization data"}),
    "expired_token": (401, {"error": "expired_token", "error_description": "The access token provided has expired."}),
    "insufficient_scope": (
        403,
        {"error": "insufficient_scope", "error_description": "The request requires higher privileges."},
    ),
    "403": (403, None),
    "404": (404, None),
    "400": (400, {"error": "INVALID_REQUEST", "error_description": "Bad request"}),
    "method_not_found": (404, {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"}),
    "error_200": (200, {"error": "ACCESS_DENIED", "error_description": "Access denied"}),
}


@dataclass
class LoggedRequest:
    at: float
    method: str
    path: str
    query: dict[str, str]
    status: int
    kind: str  # "rest", "batch", "recording"


@dataclass
class _Fault:
    kind: str
    remaining: int
    match: str | None
    retry_after: str | None


@dataclass
class FakeBitrix24:
    """The fake portal.  ``with FakeBitrix24(calls=20) as fake: fake.base_url``."""

    calls: int = 500
    days: int = 60
    end: datetime | None = None
    user_id: str = "1"
    token: str = DEFAULT_TOKEN
    rate: float = 2.0
    burst: int = 50
    fault_rate: float = 0.0
    fault_kinds: tuple[str, ...] = RETRYABLE_FAULTS
    seed: int = 1
    host: str = "127.0.0.1"
    port: int = 0
    recording_faults: dict[str, str] = field(default_factory=dict)
    access_key: str = DEFAULT_ACCESS_KEY
    slow_batch_above: int | None = None
    slow_batch_seconds: float = 1.0
    requests: list[LoggedRequest] = field(default_factory=list)
    batch_sizes: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []
        self._random = random.Random(self.seed)
        self._bucket_level = 0.0
        self._bucket_at = time.monotonic()
        self._server: QuietThreadingServer | None = None
        self.items: list[dict[str, Any]] = []
        self._by_call: dict[str, int] = {}
        self._starts: list[datetime] = []
        self._by_file: dict[str, int] = {}
        self.tasks: dict[str, dict[str, Any]] = {}

    # Lifecycle --------------------------------------------------------

    def start(self) -> FakeBitrix24:
        fake = self

        class Handler(_Handler):
            portal = fake

        self._server = serve_in_background(Handler, host=self.host, port=self.port, name="fake-bitrix24")
        self.port = self._server.server_address[1]
        self.items = self._generate()
        starts = [_parse_date(item["CALL_START_DATE"]) for item in self.items]
        self._starts = [start for start in starts if start is not None]
        assert len(self._starts) == len(starts)  # every generated call has a start, so bisect finds its index
        self._by_call = {item["CALL_ID"]: index for index, item in enumerate(self.items)}
        self._by_file = {
            item["RECORD_FILE_ID"]: index for index, item in enumerate(self.items) if item["RECORD_FILE_ID"]
        }
        return self

    def stop(self) -> None:
        if self._server:
            stop_serving(self._server)
            self._server = None

    def __enter__(self) -> FakeBitrix24:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """Portal URL without ``/rest`` (the client accepts both forms)."""
        return f"http://{self.host}:{self.port}"

    # Fault injection --------------------------------------------------

    def fail_next(self, kind: str, times: int = 1, *, match: str | None = None, retry_after: str | None = None) -> None:
        """Answer the next ``times`` requests whose path contains ``match`` with fault ``kind``.

        Kinds: the keys of ``FAULTS``, plus ``reset`` (connection closed with no
        answer), ``html`` and ``empty`` (200 bodies that are not audio or JSON),
        ``not_json`` and ``slow`` (answers after 1 s).
        """
        with self._lock:
            self._faults.append(_Fault(kind, times, match, retry_after))

    def _take_fault(self, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and (fault.match is None or fault.match in path):
                    fault.remaining -= 1
                    return fault
            if self.fault_rate and self._random.random() < self.fault_rate:
                return _Fault(self._random.choice(self.fault_kinds), 1, None, None)
        return None

    def _admit(self) -> bool:
        """Leaky bucket: each request adds 1, the bucket drains ``rate`` per second up to ``burst``."""
        if self.rate <= 0:
            return True
        with self._lock:
            now = time.monotonic()
            self._bucket_level = max(0.0, self._bucket_level - (now - self._bucket_at) * self.rate)
            self._bucket_at = now
            if self._bucket_level + 1 > self.burst:
                return False
            self._bucket_level += 1
            return True

    def log(self, entry: LoggedRequest) -> None:
        with self._lock:
            self.requests.append(entry)

    def log_batch_size(self, size: int) -> None:
        with self._lock:
            self.batch_sizes.append(size)

    def count(self, kind: str | None = None, *, path_contains: str | None = None) -> int:
        with self._lock:
            return sum(
                1
                for entry in self.requests
                if (kind is None or entry.kind == kind) and (path_contains is None or path_contains in entry.path)
            )

    # Data -------------------------------------------------------------

    def _generate(self) -> list[dict[str, Any]]:
        end = (self.end or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
        start = end - timedelta(days=self.days)
        step = (end - start) / max(self.calls, 1)
        items = []
        for index in range(self.calls):
            started = (start + step * index + timedelta(seconds=1)).replace(microsecond=0)
            items.append(self._item(index, started))
        return items

    def _item(self, index: int, started: datetime) -> dict[str, Any]:
        number = index + 1
        call_id = f"externalCall.{number:06d}"
        duration = 15 + (index * 37) % 600
        kind = index % 10
        has_url = kind not in (7, 8)
        has_file = kind != 7
        file_id = str(500000 + number)
        record_url = f"{self.base_url}/disk/downloadFile/{file_id}/?ncc=1&filename={call_id}.wav&auth={self.access_key}"
        return {
            "ID": str(number),
            "CALL_ID": call_id,
            "CALL_TYPE": str(index % 4 + 1),
            "CALL_START_DATE": started.astimezone(MOSCOW).isoformat(),
            "CALL_DURATION": str(duration),
            "CALL_FAILED_CODE": "200",
            "PORTAL_USER_ID": str(100 + index % 7),
            "PORTAL_NUMBER": "+74950000000",
            "PHONE_NUMBER": f"+7916{number:07d}",
            "CALL_RECORD_URL": record_url if has_url else "",
            "RECORD_FILE_ID": file_id if has_file else None,
            "RECORD_DURATION": str(duration) if has_file else None,
            "CRM_ENTITY_TYPE": "CONTACT",
            "CRM_ENTITY_ID": str(9000 + number),
            "CRM_ACTIVITY_ID": str(70000 + number),
            "COST": "1.2000",
            "COST_CURRENCY": "RUB",
        }

    def recording(self, call_id: str) -> bytes | None:
        index = self._by_call.get(call_id)
        return None if index is None else wav_bytes(index)

    def recording_by_file(self, file_id: str) -> tuple[str, bytes] | None:
        index = self._by_file.get(file_id)
        return None if index is None else (self.items[index]["CALL_ID"], wav_bytes(index))

    # REST methods -----------------------------------------------------

    def run_method(self, method: str, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if method == "voximplant.statistic.get":
            return 200, self._statistics(query)
        if method == "disk.file.get":
            found = self.recording_by_file(query.get("id", ""))
            if not found:
                return 400, {"error": "ERROR_NOT_FOUND", "error_description": "Could not find entity with id"}
            return 200, {
                "result": {
                    "ID": query["id"],
                    "NAME": f"{found[0]}.wav",
                    "DOWNLOAD_URL": f"{self.base_url}/rest/download.json?auth={self.access_key}&token=disk%7C{query['id']}",
                }
            }
        return 404, {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"}

    def run_task_method(self, method: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """The ``tasks.task.*`` methods on :attr:`tasks`, answering in the portal's shapes."""
        with self._lock:
            if method == "tasks.task.add":
                fields = body.get("fields")
                if not isinstance(fields, dict) or not fields.get("TITLE"):
                    return 400, {"error": "ERROR_CORE", "error_description": "TITLE is required"}
                task_id = str(1000 + len(self.tasks) + 1)
                self.tasks[task_id] = {**fields, "ID": task_id, "STATUS": "2"}
                return 200, {"result": {"task": {"id": task_id, "title": fields["TITLE"]}}}
            if method == "tasks.task.list":
                wanted = (body.get("filter") or {}).get("XML_ID")
                found = [t for t in self.tasks.values() if wanted is None or t.get("XML_ID") == wanted]
                listed = [{"id": t["ID"], "xmlId": t.get("XML_ID")} for t in found]
                return 200, {"result": {"tasks": listed}, "total": len(listed)}
            task = self.tasks.get(str(body.get("taskId")))
            if task is None:
                return 400, {"error": "ERROR_CORE", "error_description": "Task not found"}
            if method == "tasks.task.update":
                task.update(body.get("fields") or {})
            else:
                task["STATUS"] = "5"
            return 200, {"result": {"task": {"id": task["ID"]}} if method == "tasks.task.update" else {"task": True}}

    def _statistics(self, query: dict[str, str]) -> dict[str, Any]:
        low = _parse_date(query.get("FILTER[>=CALL_START_DATE]"))
        high = _parse_date(query.get("FILTER[<=CALL_START_DATE]"))
        # Items are generated in start order, so the inclusive range is a slice.
        first = 0 if low is None else bisect.bisect_left(self._starts, low)
        last = len(self.items) if high is None else bisect.bisect_right(self._starts, high)
        selected = self.items[first:last]
        if query.get("ORDER", "ASC").upper() == "DESC":
            selected.reverse()
        start = int(query.get("start") or 0)
        page = selected[start : start + PAGE_SIZE]
        body: dict[str, Any] = {"result": page, "total": len(selected), "time": {"start": time.time()}}
        if start + PAGE_SIZE < len(selected):
            body["next"] = start + PAGE_SIZE
        return body

    def run_batch(self, commands: dict[str, str]) -> dict[str, Any]:
        results: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        totals: dict[str, Any] = {}
        nexts: dict[str, Any] = {}
        for key, command in list(commands.items())[:BATCH_LIMIT]:
            method, _, query_string = command.partition("?")
            status, body = self.run_method(method, _flat_query(query_string))
            if status != 200:
                errors[key] = body
                continue
            results[key] = body["result"]
            if "total" in body:
                totals[key] = body["total"]
            if "next" in body:
                nexts[key] = body["next"]
        # Like the portal, empty maps are encoded as JSON arrays.
        return {
            "result": {
                "result": results or [],
                "result_error": errors or [],
                "result_total": totals or [],
                "result_next": nexts or [],
                "result_time": [],
            },
            "time": {"start": time.time()},
        }


class _Handler(FakeServiceHandler):
    portal: FakeBitrix24

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        query = _flat_query(parts.query)
        body = self._read_body()
        segments = [s for s in parts.path.split("/") if s]
        kind = (
            "recording"
            if segments[:1] in (["recordings"], ["disk"]) or segments == ["rest", "download.json"]
            else "rest"
        )
        if kind == "rest" and len(segments) == 4 and segments[3].removesuffix(".json") == "batch":
            kind = "batch"
        self._entry = LoggedRequest(time.time(), self.command, parts.path, query, 0, kind)
        self._dispatch(kind, segments, query, body)

    def _log(self, status: int) -> None:
        # Logged before the answer is written, so a client never sees an answer the log lacks.
        self.portal.log(dataclasses.replace(self._entry, status=status))

    def _read_body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}
        if "json" in (self.headers.get("Content-Type") or ""):
            try:
                value = json.loads(raw)
            except ValueError:
                return {}
            return value if isinstance(value, dict) else {}
        return _form_to_nested(parse_qs(raw.decode(), keep_blank_values=True))

    def _dispatch(self, kind: str, segments: list[str], query: dict[str, str], body: dict[str, Any]) -> int:
        portal = self.portal
        fault = portal._take_fault(self.path)
        if fault:
            return self._fault(fault, kind)
        if kind == "recording":
            return self._recording(segments, query)
        if len(segments) != 4 or segments[0] != "rest" or segments[1] != portal.user_id or segments[2] != portal.token:
            return self._json(401, FAULTS["401"][1])
        if not portal._admit():
            return self._json(503, FAULTS["query_limit"][1])
        method = segments[3].removesuffix(".json")
        if method == "batch":
            commands = body.get("cmd") or {}
            if not isinstance(commands, dict) or len(commands) > BATCH_LIMIT:
                return self._json(400, {"error": "INVALID_REQUEST", "error_description": "Max batch length exceeded"})
            portal.log_batch_size(len(commands))
            if portal.slow_batch_above is not None and len(commands) > portal.slow_batch_above:
                # A large portal answering a big batch slower than the client waits.
                time.sleep(portal.slow_batch_seconds)
            return self._json(200, portal.run_batch(commands))
        if method.startswith("tasks.task."):
            return self._json(*portal.run_task_method(method, body))
        status, payload = portal.run_method(method, {**query, **{k: str(v) for k, v in body.items()}})
        return self._json(status, payload)

    def _recording(self, segments: list[str], query: dict[str, str]) -> int:
        portal = self.portal
        if segments[0] == "recordings" and len(segments) == 2:
            call_id, data = segments[1], portal.recording(segments[1])
        else:
            file_id, keyed = _file_id(segments, query)
            found = portal.recording_by_file(file_id) if file_id else None
            call_id, data = found if found else ("", None)
            if keyed and data is not None and query.get("auth") != portal.access_key:
                return self._json(401, FAULTS["401"][1])
        override = portal.recording_faults.get(call_id)
        if override:
            return self._fault(_Fault(override, 1, None, None), "recording")
        if data is None:
            return self._raw(404, b"Not found", "text/plain")
        return self._raw(200, data, "audio/wav")

    def _fault(self, fault: _Fault, kind: str) -> int:
        headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
        if fault.kind == "reset":
            self._log(0)
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return 0
        if fault.kind == "slow":
            time.sleep(1.0)
            return self._json(200, {"result": [], "total": 0})
        if fault.kind == "html":
            return self._raw(200, b"<!DOCTYPE html><html><body>Login</body></html>", "text/html", headers)
        if fault.kind == "empty":
            return self._raw(200, b"", "audio/mpeg", headers)
        if fault.kind == "not_json":
            return self._raw(200, b"Service temporarily unavailable", "text/plain", headers)
        status, payload = FAULTS[fault.kind]
        if payload is None or kind == "recording":
            return self._raw(status, f"Error {status}".encode(), "text/plain", headers)
        return self._json(status, payload, headers)

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> int:
        return self._raw(status, json.dumps(payload, ensure_ascii=False).encode(), "application/json", headers)

    def _raw(self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None) -> int:
        self._log(status)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        return status


def _file_id(segments: list[str], query: dict[str, str]) -> tuple[str | None, bool]:
    """The Disk file a download URL names, and whether that URL form needs the access key."""
    if segments[:2] in (["disk", "download"], ["disk", "downloadFile"]) and len(segments) == 3:
        return segments[2], segments[1] == "downloadFile"
    if segments == ["rest", "download.json"] and query.get("token", "").startswith("disk|"):
        return query["token"].removeprefix("disk|"), True
    return None, False


def _flat_query(query_string: str) -> dict[str, str]:
    return {key: values[-1] for key, values in parse_qs(query_string, keep_blank_values=True).items()}


def _form_to_nested(form: dict[str, list[str]]) -> dict[str, Any]:
    """``cmd[p1]=…&halt=0`` → ``{"cmd": {"p1": …}, "halt": "0"}``."""
    nested: dict[str, Any] = {}
    for key, values in form.items():
        name, bracket, rest = key.partition("[")
        if bracket and rest.endswith("]"):
            nested.setdefault(name, {})[rest[:-1]] = values[-1]
        else:
            nested[key] = values[-1]
    return nested


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the fake Bitrix24 portal on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--days", type=int, default=60, help="calls are spread over the last N days")
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--user-id", default="1")
    parser.add_argument("--rate", type=float, default=2.0, help="leaky bucket drain per second (0: no limit)")
    parser.add_argument("--burst", type=int, default=50)
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of requests answered with a fault")
    parser.add_argument(
        "--env-file", type=Path, help="write the portal's three B24_* variables into this file (e.g. .env)"
    )
    args = parser.parse_args(list(argv) if argv is not None else None)
    fake = FakeBitrix24(
        calls=args.calls,
        days=args.days,
        port=args.port,
        token=args.token,
        user_id=args.user_id,
        rate=args.rate,
        burst=args.burst,
        fault_rate=args.fault_rate,
    ).start()
    variables = {
        "B24_BASE_URL": f"{fake.base_url}/rest",
        "B24_WEBHOOK_USER_ID": args.user_id,
        "B24_WEBHOOK_TOKEN": args.token,
    }
    print(f"Fake Bitrix24 with {args.calls} calls over {args.days} days at {fake.base_url}", flush=True)
    for name, value in variables.items():
        print(f"  {name}={value}", flush=True)
    if args.env_file:
        write_env(args.env_file, variables)
        print(f"Wrote them to {args.env_file}; restart `make run` so the web app and the worker read them.", flush=True)
    print("Ctrl-C stops.", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
