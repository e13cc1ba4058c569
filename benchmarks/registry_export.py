"""Export the call registry of 10 000 and 100 000 records: through the command and over HTTP.

Usage:
    .venv/bin/python benchmarks/registry_export.py [--postgres-url postgres://postgres@127.0.0.1:5432/postgres]

Creates a scratch PostgreSQL database ``bench_registry_<pid>`` (dropped at the
end), migrates it, bulk-creates 100 000 call records, then for the first
10 000 and for all of them prints rows/s and the peak RSS of the exporting
process: ``manage.py call_registry`` (a child process, its ``ru_maxrss``) and
``GET /api/v1/call-registry`` streamed from one gunicorn sync worker (the
worker's ``VmHWM``, a high-water mark, read after each export).
Targets (issue 12): ≥ 20 000 rows/s, peak RSS < 150 MB and flat from 10k to 100k.
Results are in docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from returns_api import start_server

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
SIZES = (10_000, 100_000)
SEED = """
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from calls.models import CallExport, CallRecord
start = datetime(2026, 1, 1, tzinfo=UTC)
run = CallExport.objects.create(period_from=start, period_to=start + timedelta(days=30))
batch = []
for i in range({count}):
    batch.append(CallRecord(
        run=run, call_id=f"call-{{i}}", record_id=str(i), employee_id=str(i % 50), direction="inbound",
        from_number="+7916{{:07d}}".format(i), to_number="+74950000000", duration_sec=i % 600,
        call_started_at=start + timedelta(seconds=i), recording_url=f"https://b24.example/rec/{{i}}.mp3?token=t",
        transcript_path=f"transcripts/{{i}}.txt", text_preview="Здравствуйте; это тестовый звонок\\nномер " + str(i),
        transcription_cost=Decimal("0.125"), language="ru", status="completed", attempts=1, checksum="ab" * 32))
    if len(batch) == 5000:
        CallRecord.objects.bulk_create(batch); batch = []
CallRecord.objects.bulk_create(batch)
"""


@contextlib.contextmanager
def scratch_database(admin_url: str, name: str) -> Iterator[str]:
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def manage(*args: str, env: dict[str, str]) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def period_to(size: int) -> str:
    last = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=size - 1)
    return last.isoformat().replace("+00:00", "Z")


def command_export(size: int, env: dict[str, str], workdir: Path) -> tuple[float, float]:
    """Seconds and peak RSS (MB) of one ``call_registry`` child process."""
    target = workdir / f"registry_{size}.csv"
    began = time.perf_counter()
    child = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "call_registry",
            "--from",
            "2026-01-01T00:00:00Z",
            "--to",
            period_to(size),
            "--output",
            str(target),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - began
    if status != 0:
        raise SystemExit(f"call_registry failed with status {status}")
    return elapsed, usage.ru_maxrss / 1024


def worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


def high_water_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def api_export(size: int, url: str, token: str) -> tuple[float, int]:
    """Seconds and bytes of one streamed download."""
    began = time.perf_counter()
    received = 0
    with requests.get(
        f"{url}/api/v1/call-registry",
        params={"period_from": "2026-01-01T00:00:00Z", "period_to": period_to(size)},
        headers={"Authorization": f"Bearer {token}"},
        stream=True,
        timeout=600,
    ) as response:
        response.raise_for_status()
        for chunk in response.iter_content(chunk_size=65536):
            received += len(chunk)
    return time.perf_counter() - began, received


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    args = parser.parse_args()
    with (
        scratch_database(args.postgres_url, f"bench_registry_{os.getpid()}") as database_url,
        tempfile.TemporaryDirectory() as scratch,
    ):
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "DEBUG": "false",
            "JWT_SECRET": secrets.token_hex(32),
            "PII_MASKING_ENABLED": "true",
            "API_RATE_LIMIT_PER_MINUTE": "100000",
        }
        manage("migrate", "--noinput", env=env)
        manage("shell", "-c", SEED.format(count=max(SIZES)), env=env)
        with psycopg.connect(database_url, autocommit=True) as connection:
            connection.execute("ANALYZE calls_callrecord")
        token = manage("issue_token", "--role", "1c", "--subject", "bench", "--minutes", "30", env=env)
        print(f"{'export':<8} {'rows':>8} {'seconds':>8} {'rows/s':>9} {'peak RSS MB':>12}")
        for size in SIZES:
            seconds, rss = command_export(size, env, Path(scratch))
            print(f"{'command':<8} {size:>8} {seconds:>8.2f} {size / seconds:>9.0f} {rss:>12.1f}")
        server, url = start_server(workers=1, threads=1, env=env)
        try:
            (worker,) = worker_pids(server.pid)
            api_export(10, url, token)  # warm the worker: imports and the first connection
            for size in SIZES:
                seconds, _ = api_export(size, url, token)
                print(f"{'api':<8} {size:>8} {seconds:>8.2f} {size / seconds:>9.0f} {high_water_mb(worker):>12.1f}")
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"driver peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
