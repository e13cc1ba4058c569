"""Load the returns API: POST with unique Idempotency-Keys, then GET list pages of 50.

Usage:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/returns_bench .venv/bin/python benchmarks/returns_api.py
    .venv/bin/python benchmarks/returns_api.py --url http://127.0.0.1:8000 --token "$TOKEN"

Without ``--url`` it migrates the database in ``DATABASE_URL`` (the embedded
SQLite file otherwise), starts gunicorn on 127.0.0.1 with the per-subject rate
limit lifted, and stops it at the end.  This process is the client: it drives
the server from separate threads and prints requests/s, p50/p95/p99 latency and
error counts per phase.  Both the request count and the wall time are bounded.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
BODY = {
    "source": "warehouse",
    "courier_id": "courier-001",
    "order_id_1c": "ORD-BENCH",
    "items": [
        {"sku": "SKU-1001", "qty": 1, "quality": "new", "reason_code": "customer_changed_mind"},
        {"sku": "SKU-1002", "qty": 2, "quality": "defect", "reason_code": "broken", "imei": "356938035643809"},
    ],
}


@dataclass
class PhaseResult:
    name: str
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    exceptions: Counter = field(default_factory=Counter)
    wall_seconds: float = 0.0

    def report(self) -> str:
        done = len(self.latencies)
        if not done:
            return f"{self.name}: no requests completed; exceptions={dict(self.exceptions)}"
        ordered = sorted(self.latencies)
        quantiles = statistics.quantiles(ordered, n=100, method="inclusive") if done > 1 else ordered * 99
        errors = {status: count for status, count in self.statuses.items() if status >= 400}
        return (
            f"{self.name:<22} requests={done:<6} rps={done / self.wall_seconds:8.1f}  "
            f"p50={quantiles[49] * 1000:7.1f} ms  p95={quantiles[94] * 1000:7.1f} ms  "
            f"p99={quantiles[98] * 1000:7.1f} ms  max={ordered[-1] * 1000:7.1f} ms  "
            f"errors={sum(errors.values())} {errors or ''} exceptions={sum(self.exceptions.values())}"
        )


def run_phase(name: str, *, total: int, concurrency: int, deadline: float, send) -> PhaseResult:
    """Run ``send(session)`` ``total`` times from ``concurrency`` threads, stopping at ``deadline``."""
    result = PhaseResult(name)
    lock = threading.Lock()
    remaining = iter(range(total))
    local = threading.local()

    def worker() -> None:
        local.session = requests.Session()
        while time.monotonic() < deadline:
            with lock:
                if next(remaining, None) is None:
                    return
            started = time.perf_counter()
            try:
                status = send(local.session).status_code
            except requests.RequestException as error:
                with lock:
                    result.exceptions[type(error).__name__] += 1
                continue
            elapsed = time.perf_counter() - started
            with lock:
                result.latencies.append(elapsed)
                result.statuses[status] += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for _ in range(concurrency):
            pool.submit(worker)
    result.wall_seconds = time.perf_counter() - started
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(*args: str, env: dict[str, str]) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def start_server(workers: int, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "mastermobile.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    ready_by = time.monotonic() + 30
    while time.monotonic() < ready_by:  # readiness probe of a child process, bounded
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with code {server.returncode}")
        try:
            if requests.get(f"{url}/health", timeout=1).status_code == 200:
                return server, url
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    server.terminate()
    raise SystemExit("gunicorn did not become healthy within 30 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="target an already running server (127.0.0.1 only)")
    parser.add_argument("--token", help="bearer token with role admin (default: issued with manage.py issue_token)")
    parser.add_argument("--requests", type=int, default=2000, help="requests per phase (default 2000, max 50000)")
    parser.add_argument("--concurrency", type=int, default=16, help="client threads (default 16, max 128)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers when starting one (default 4)")
    parser.add_argument("--max-seconds", type=float, default=60, help="wall-time cap per phase (default 60)")
    args = parser.parse_args()
    if not 1 <= args.requests <= 50_000 or not 1 <= args.concurrency <= 128:
        parser.error("--requests must be 1…50000 and --concurrency 1…128")

    env = {**os.environ, "API_THROTTLE_RATE": "1000000/min", "LOG_LEVEL": "WARNING", "APP_ENV": "local"}
    server = None
    if args.url:
        if urlsplit(args.url).hostname not in ("127.0.0.1", "localhost"):
            parser.error("--url must point at 127.0.0.1")
        url = args.url.rstrip("/")
    else:
        env["JWT_SECRET"] = secrets.token_hex(32)  # the server and issue_token share it
        manage("migrate", "--noinput", env=env)
        server, url = start_server(args.workers, env)
    token = args.token or manage("issue_token", "--role", "admin", "--subject", "bench", "--minutes", "30", env=env)
    headers = {"Authorization": f"Bearer {token}"}
    database = os.environ.get("DATABASE_URL", "sqlite (var/mastermobile.sqlite3)").split("@")[-1]
    print(f"target={url} database={database} concurrency={args.concurrency} requests/phase={args.requests}")

    def post(session: requests.Session) -> requests.Response:
        return session.post(
            f"{url}/api/v1/returns", json=BODY, headers={**headers, "Idempotency-Key": str(uuid.uuid4())}, timeout=30
        )

    def get_list(session: requests.Session) -> requests.Response:
        return session.get(f"{url}/api/v1/returns", params={"page_size": 50}, headers=headers, timeout=30)

    try:
        for name, send in (("POST /api/v1/returns", post), ("GET list page_size=50", get_list)):
            deadline = time.monotonic() + args.max_seconds
            result = run_phase(name, total=args.requests, concurrency=args.concurrency, deadline=deadline, send=send)
            print(result.report(), flush=True)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
