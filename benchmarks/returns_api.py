"""Load the returns API: POST with unique Idempotency-Keys and GET list pages of 50.

Usage:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/returns_bench .venv/bin/python benchmarks/returns_api.py
    .venv/bin/python benchmarks/returns_api.py --url http://127.0.0.1:8000 --token "$TOKEN"

Without ``--url`` it migrates the database in ``DATABASE_URL`` (a throw-away
SQLite file otherwise, never the development database), starts gunicorn on 127.0.0.1 with the per-subject rate
limit lifted, and stops it at the end.  This process is only the driver; the
load comes from separate processes or threads and every phase prints
requests/s, p50/p95/p99 latency and the number of non-2xx answers and
transport errors.

Two kinds of phase, each bounded by ``--seconds``:

* **closed loop** (maximum throughput): with ``wrk`` on PATH (Debian package
  ``wrk``) each of ``--connections`` keeps one request in flight; a Lua script
  gives every POST its own Idempotency-Key and computes the percentiles.
  Without ``wrk`` the Python client does the same from threads (it needs CPU
  itself, so it measures less).
* **fixed rate** (``--rate``, default 100 req/s): the Python client sends on a
  fixed schedule and measures each latency from the *scheduled* send time, so
  a slow server cannot hide its queueing by slowing the client down.

Every phase prints how many cores other work on the machine took meanwhile
(``benchmarks/machine.py``: all CPU minus the server's, the client's and the
database backends'), marked ``BUSY`` above ``--max-load``: leave such phases
out of comparisons.

The server it starts runs with DEBUG off and ``--workers`` sync workers (or
gthread with ``--threads``); the returns tables are ANALYZEd before the POST
and the GET phases so that plans do not depend on autovacuum having run.
Results for this repository are in docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import requests
from machine import OtherLoad

ROOT = Path(__file__).resolve().parent.parent
LIST_PATH = "/api/v1/returns?page_size=50"
ANALYZED_TABLES = ("returns_return", "returns_returnline", "mastermobile_idempotencyrecord")
CREATE_PATH = "/api/v1/returns"
BODY = {
    "source": "warehouse",
    "courier_id": "courier-001",
    "order_id_1c": "ORD-BENCH",
    "items": [
        {"sku": "SKU-1001", "qty": 1, "quality": "new", "reason_code": "customer_changed_mind"},
        {"sku": "SKU-1002", "qty": 2, "quality": "defect", "reason_code": "broken", "imei": "356938035643809"},
    ],
}

# wrk runs one Lua state per thread.  setup() numbers the threads so that the
# keys "<run>-<thread>-<n>" never collide; done() sums the per-thread non-2xx
# counters and prints one JSON line for the driver to read.
# Counting non-2xx answers per thread and printing one WRK_RESULT line: every wrk script of the benchmarks ends so.
WRK_RESULT_LUA = r"""function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non2xx")
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d, '
      .. '"non2xx": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.max, bad, e.connect + e.read + e.write + e.timeout))
end
"""
WRK_SCRIPT = (
    r"""
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_id", #threads)
end

function init(args)
  run_id, method, token = args[1], args[2], args[3]
  sent, non2xx = 0, 0
  wrk.method = method
  wrk.headers["Authorization"] = "Bearer " .. token
  if method == "POST" then
    local file = assert(io.open(args[4], "rb"))
    wrk.body = file:read("*a")
    file:close()
    wrk.headers["Content-Type"] = "application/json"
  end
end

function request()
  if wrk.method ~= "POST" then
    return wrk.format()
  end
  sent = sent + 1
  wrk.headers["Idempotency-Key"] = run_id .. "-" .. thread_id .. "-" .. sent
  return wrk.format()
end

"""
    + WRK_RESULT_LUA
)


@dataclass
class PhaseResult:
    name: str
    requests: int = 0
    seconds: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    non2xx: int = 0
    errors: int = 0
    detail: str = ""

    def report(self) -> str:
        if not self.requests:
            return f"{self.name:<34} no requests completed; errors={self.errors} {self.detail}"
        return (
            f"{self.name:<34} requests={self.requests:<6} rps={self.requests / self.seconds:7.1f}  "
            f"p50={self.p50_ms:6.1f} ms  p95={self.p95_ms:6.1f} ms  p99={self.p99_ms:6.1f} ms  "
            f"max={self.max_ms:7.1f} ms  non2xx={self.non2xx} errors={self.errors} {self.detail}".rstrip()
        )


@dataclass
class Samples:
    """What the Python client collects: latencies in seconds, statuses, exception names."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    exceptions: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def result(self, name: str, seconds: float) -> PhaseResult:
        ordered = sorted(self.latencies)
        if not ordered:
            return PhaseResult(name, errors=sum(self.exceptions.values()), detail=str(dict(self.exceptions)))
        cuts = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else ordered * 99
        non2xx = {status: count for status, count in self.statuses.items() if not 200 <= status < 300}
        return PhaseResult(
            name,
            requests=len(ordered),
            seconds=seconds,
            p50_ms=cuts[49] * 1000,
            p95_ms=cuts[94] * 1000,
            p99_ms=cuts[98] * 1000,
            max_ms=ordered[-1] * 1000,
            non2xx=sum(non2xx.values()),
            errors=sum(self.exceptions.values()),
            detail=" ".join(filter(None, (str(non2xx) if non2xx else "", str(dict(self.exceptions) or "")))),
        )


Send = Callable[[requests.Session], requests.Response]


def _timed_send(send: Send, session: requests.Session, samples: Samples, since: float) -> None:
    try:
        status = send(session).status_code
    except requests.RequestException as error:
        with samples.lock:
            samples.exceptions[type(error).__name__] += 1
        return
    elapsed = time.perf_counter() - since
    with samples.lock:
        samples.latencies.append(elapsed)
        samples.statuses[status] += 1


def python_closed_loop(name: str, *, send: Send, connections: int, seconds: float) -> PhaseResult:
    """``connections`` threads, each sending back to back until ``seconds`` have passed."""
    samples, local = Samples(), threading.local()
    started = time.perf_counter()
    deadline = started + seconds

    def worker() -> None:
        local.session = requests.Session()
        while time.perf_counter() < deadline:
            _timed_send(send, local.session, samples, time.perf_counter())

    with ThreadPoolExecutor(max_workers=connections) as pool:
        for _ in range(connections):
            pool.submit(worker)
    return samples.result(name, time.perf_counter() - started)


def python_fixed_rate(name: str, *, send: Send, rate: float, seconds: float, threads: int = 32) -> PhaseResult:
    """Send ``rate`` requests a second for ``seconds``; latency counts from the scheduled send time."""
    total = max(1, int(rate * seconds))
    samples, local, lock = Samples(), threading.local(), threading.Lock()
    slots = iter(range(total))
    started = time.perf_counter() + 0.2  # let every thread open its session first

    def worker() -> None:
        local.session = requests.Session()
        while True:
            with lock:
                slot = next(slots, None)
            if slot is None:
                return
            scheduled = started + slot / rate
            time.sleep(max(0.0, scheduled - time.perf_counter()))
            _timed_send(send, local.session, samples, scheduled)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        for _ in range(threads):
            pool.submit(worker)
    return samples.result(name, time.perf_counter() - started)


def wrk_closed_loop(
    name: str, *, url: str, method: str, token: str, connections: int, seconds: float, workdir: Path
) -> PhaseResult:
    """One ``wrk`` run: ``connections`` connections on 2 threads for ``seconds``."""
    script = workdir / "returns_api.lua"
    body = workdir / "body.json"
    script.write_text(WRK_SCRIPT)
    body.write_text(json.dumps(BODY))
    path = CREATE_PATH if method == "POST" else LIST_PATH
    return run_wrk(
        name,
        script=script,
        url=url + path,
        connections=connections,
        seconds=seconds,
        script_args=[uuid.uuid4().hex, method, token, str(body)],
    )


def run_wrk(
    name: str, *, script: Path, url: str, connections: int, seconds: float, script_args: list[str]
) -> PhaseResult:
    """``wrk`` with a script that ends in :data:`WRK_RESULT_LUA`: ``connections`` on 2 threads for ``seconds``."""
    command = [
        "wrk",
        f"--threads={min(2, connections)}",
        f"--connections={connections}",
        f"--duration={max(1, round(seconds))}s",
        "--timeout=10s",
        f"--script={script}",
        url,
        "--",
        *script_args,
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30, check=False)
    line = next((row for row in completed.stdout.splitlines() if row.startswith("WRK_RESULT ")), None)
    if line is None:
        return PhaseResult(name, detail=f"wrk failed: {completed.stderr.strip() or completed.stdout.strip()}")
    data = json.loads(line.removeprefix("WRK_RESULT "))
    return PhaseResult(
        name,
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p95_ms=data["p95_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        non2xx=data["non2xx"],
        errors=data["socket_errors"],
    )


def with_load(result: PhaseResult, load: OtherLoad, max_load: float) -> PhaseResult:
    """Note how much CPU other work took during the phase; above ``max_load`` cores its numbers are not comparable."""
    if load.cores is not None:
        mark = f"others={load.cores:.2f} cores" + (" BUSY: leave out" if load.cores > max_load else "")
        result.detail = f"{result.detail} {mark}".strip()
    return result


def database_backends(env: dict[str, str]) -> set[int]:
    """PIDs of the PostgreSQL backends serving the benchmark's database: their CPU is the benchmark's own."""
    url = env.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return set()
    import psycopg

    with psycopg.connect(url.replace("postgres://", "postgresql://", 1), autocommit=True) as connection:
        rows = connection.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()").fetchall()
        return {row[0] for row in rows}


def analyze_tables(env: dict[str, str]) -> str:
    """Refresh planner statistics (``ANALYZE``) of the tables the phases grow; return the number of returns.

    A server with autovacuum off (as on the benchmark machine) would otherwise
    plan with the statistics of an empty table: a sequential scan of all lines
    for every list page.
    """
    code = (
        "from django.db import connection\n"
        "with connection.cursor() as cursor:\n"
        f"    for table in {ANALYZED_TABLES!r}:\n"
        "        cursor.execute('ANALYZE ' + table)\n"
        "    cursor.execute('SELECT COUNT(*) FROM returns_return')\n"
        "    print(cursor.fetchone()[0])\n"
    )
    return manage("shell", "--no-imports", "-c", code, env=env)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(*args: str, env: dict[str, str]) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def start_server(*, workers: int, threads: int, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [
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
    ]
    if threads > 1:
        command += ["--worker-class", "gthread", "--threads", str(threads)]
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    ready_by = time.monotonic() + 30
    try:
        while time.monotonic() < ready_by:  # readiness probe of a child process, bounded
            if server.poll() is not None:
                raise SystemExit(f"gunicorn exited with code {server.returncode}")
            try:
                # The first request of a cold worker can take seconds (imports, migrations check).
                if requests.get(f"{url}/health", timeout=10).status_code == 200:
                    return server, url
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise SystemExit("gunicorn did not become healthy within 30 s")
    except BaseException:
        server.terminate()  # never leave a server behind, whatever stopped the probe
        server.wait(timeout=30)
        raise


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="target an already running server (127.0.0.1 only)")
    parser.add_argument("--token", help="bearer token with role admin (default: issued with manage.py issue_token)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers when starting one (default 2)")
    parser.add_argument("--threads", type=int, default=1, help="gunicorn gthread threads per worker (default 1: sync)")
    parser.add_argument(
        "--connections", type=int, nargs="+", default=[8, 16], help="closed-loop concurrency levels (default 8 16)"
    )
    parser.add_argument("--rate", type=float, default=100, help="fixed-rate phase in req/s, 0 to skip (default 100)")
    parser.add_argument("--seconds", type=float, default=15, help="length of each phase (default 15, max 120)")
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto", help="closed-loop load source")
    parser.add_argument(
        "--max-load",
        type=float,
        default=0.2,
        help="a phase during which other work took more than this many cores is marked BUSY (0.2)",
    )
    parser.add_argument(
        "--analyze",
        action=argparse.BooleanOptionalAction,
        help="ANALYZE the returns tables (in DATABASE_URL) before the POST and the GET phases; "
        "default: on when this script starts the server",
    )
    args = parser.parse_args()
    if not 1 <= args.seconds <= 120 or not all(1 <= c <= 128 for c in args.connections) or not 0 <= args.rate <= 1000:
        parser.error("--seconds must be 1…120, --connections 1…128 and --rate 0…1000")
    use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk") is not None)
    if use_wrk and shutil.which("wrk") is None:
        parser.error("wrk is not on PATH (Debian: apt-get install wrk)")

    # Production-like: no DEBUG (it would record every SQL statement), rate limit lifted, quiet logs.
    env = {
        **os.environ,
        "API_THROTTLE_RATE": "1000000/min",
        "LOG_LEVEL": "WARNING",
        "APP_ENV": "local",
        "DJANGO_DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
    }
    server = None
    if args.url:
        if urlsplit(args.url).hostname not in ("127.0.0.1", "localhost"):
            parser.error("--url must point at 127.0.0.1")
        url = args.url.rstrip("/")
    else:
        if not env.get("DATABASE_URL"):
            scratch = Path(tempfile.mkdtemp(prefix="returns-bench-"))
            env["DATABASE_URL"] = f"sqlite:///{scratch / 'bench.sqlite3'}"
        env["JWT_SECRET"] = secrets.token_hex(32)  # the server and issue_token share it
        manage("migrate", "--noinput", env=env)
    # Issued before the server starts: nothing between the start and the try/finally below may fail.
    token = args.token or manage("issue_token", "--role", "admin", "--subject", "bench", "--minutes", "30", env=env)
    if not args.url:
        server, url = start_server(workers=args.workers, threads=args.threads, env=env)
    headers = {"Authorization": f"Bearer {token}"}
    database = env.get("DATABASE_URL", "unknown").split("@")[-1]
    server_shape = "external" if args.url else f"{args.workers} workers × {args.threads} threads"
    print(
        f"target={url} server={server_shape} database={database} client={'wrk' if use_wrk else 'python'} "
        f"seconds/phase={args.seconds:g}",
        flush=True,
    )

    def post(session: requests.Session) -> requests.Response:
        key = {"Idempotency-Key": str(uuid.uuid4())}
        return session.post(url + CREATE_PATH, json=BODY, headers={**headers, **key}, timeout=30)

    def get_list(session: requests.Session) -> requests.Response:
        return session.get(url + LIST_PATH, headers=headers, timeout=30)

    def server_pids() -> set[int]:
        return {server.pid} if server is not None else set()

    try:
        with tempfile.TemporaryDirectory(prefix="returns-bench-") as workdir:

            def closed_loop(name: str, *, method: str, send: Send, connections: int) -> PhaseResult:
                if not use_wrk:
                    return python_closed_loop(name, send=send, connections=connections, seconds=args.seconds)
                return wrk_closed_loop(
                    name,
                    url=url,
                    method=method,
                    token=token,
                    connections=connections,
                    seconds=args.seconds,
                    workdir=Path(workdir),
                )

            for method, label, send in (
                ("POST", "POST /api/v1/returns", post),
                ("GET", "GET list page_size=50", get_list),
            ):
                if args.analyze if args.analyze is not None else not args.url:
                    print(f"ANALYZE done; {analyze_tables(env)} returns in the table", flush=True)
                for connections in args.connections:
                    name = f"{label} c={connections}"
                    with OtherLoad(server_pids, lambda: database_backends(env)) as load:
                        result = closed_loop(name, method=method, send=send, connections=connections)
                    print(with_load(result, load, args.max_load).report(), flush=True)
                if args.rate:
                    name = f"{label} @{args.rate:g}/s"
                    with OtherLoad(server_pids, lambda: database_backends(env)) as load:
                        result = python_fixed_rate(name, send=send, rate=args.rate, seconds=args.seconds)
                    print(with_load(result, load, args.max_load).report(), flush=True)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
