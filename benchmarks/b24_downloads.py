"""Recording downloads per second against the fake portal, at 1 and 4 worker processes.

A run over the fake portal (``tests/fakes/bitrix24.py``: real-portal recording
URLs with an ``auth=`` key, its REST leaky bucket at 50 burst / 2 rps) is
listed, then ``--workers`` processes download its recordings through the
production path, ``calls.downloads.record_download``: the per-run cap
(``B24_DOWNLOAD_CONCURRENCY``), the shared download token bucket
(``B24_DOWNLOAD_RATE_RPS``), the integration-log rows, storage with its
checksum and the FFmpeg probe.  The settings are the defaults unless given.
Each worker takes every n-th record, the way django-q2 workers would each run
one download task at a time.  STT is off, so a stored recording ends
``skipped``/``stt_disabled`` and no transcription competes for the CPU.

    python benchmarks/b24_downloads.py [--recordings 400] [--workers 1 4] [--database-url URL]

Without ``--database-url`` every phase gets a fresh SQLite file; PostgreSQL is
``--database-url postgres://…/<name containing "bench">`` (its call tables are emptied).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

TARGET_PER_SECOND = 10.0


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mastermobile.settings")
    import django

    django.setup()


def worker(ids_file: Path, index: int, count: int) -> None:
    """One worker process: download every ``count``-th record from ``index`` on, once told to go.

    Django's start-up is not timed: the worker says ``ready`` and waits for the go file.
    """
    setup_django({})
    from calls import downloads

    ids = json.loads(ids_file.read_text())[index::count]
    downloads.download_concurrency()  # settings read and the database connection opened before the clock starts
    print("ready", flush=True)
    go = ids_file.with_suffix(".go")
    while not go.exists():
        time.sleep(0.01)
    statuses: dict[str, int] = {}
    for record_id in ids:
        while True:
            outcome = downloads.record_download(record_id=record_id)
            if outcome.queue_next or outcome.status not in ("pending", "error"):
                break
            time.sleep(0.005)  # the run's cap was full: another worker's download ends within milliseconds
        statuses[outcome.status] = statuses.get(outcome.status, 0) + 1
    print(json.dumps(statuses), flush=True)


def phase(*, recordings: int, workers: int, database_url: str | None, extra_env: dict[str, str]) -> dict:
    from machine import OtherLoad

    from tests.fakes.bitrix24 import FakeBitrix24

    scratch = Path(tempfile.mkdtemp(prefix="b24-downloads-"))
    url = database_url or f"sqlite:///{scratch / 'bench.sqlite3'}"
    # Every 10th fake call has no recording: 10/9 calls give the wanted number of recordings.
    with FakeBitrix24(calls=recordings * 10 // 9 + 1, days=30, rate=2.0, burst=50) as fake:
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "LOCAL_STORAGE_DIR": str(scratch / "storage"),
            "B24_BASE_URL": fake.base_url + "/rest",
            "B24_WEBHOOK_USER_ID": fake.user_id,
            "B24_WEBHOOK_TOKEN": fake.token,
            "OPENAI_API_KEY": "",
            "LOG_LEVEL": "WARNING",
            **extra_env,
        }
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
        ids_file = scratch / "ids.json"
        subprocess.run(
            [sys.executable, __file__, "--list-into", str(ids_file)],
            cwd=ROOT,
            env=env,
            check=True,
        )
        ids = json.loads(ids_file.read_text())
        before = len(fake.requests)
        processes = [
            subprocess.Popen(
                [sys.executable, __file__, "--worker", str(ids_file), str(index), str(workers)],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                text=True,
            )
            for index in range(workers)
        ]
        for process in processes:
            assert process.stdout is not None  # stdout=PIPE
            if process.stdout.readline().strip() != "ready":
                raise SystemExit("a worker did not start")
        with OtherLoad(lambda: {p.pid for p in processes}) as load:
            started = time.monotonic()
            ids_file.with_suffix(".go").touch()
            outputs = [p.communicate()[0] for p in processes]
            seconds = time.monotonic() - started
        statuses: dict[str, int] = {}
        for output in outputs:
            for status, count in json.loads(output.strip().splitlines()[-1]).items():
                statuses[status] = statuses.get(status, 0) + count
        downloads = sum(1 for r in fake.requests[before:] if r.kind == "recording" and r.status == 200)
    return {
        "workers": workers,
        "recordings": len(ids),
        "downloads": downloads,
        "seconds": seconds,
        "per_second": downloads / seconds,
        "statuses": statuses,
        "other_cores": load.cores,
    }


def list_into(ids_file: Path) -> None:
    """List the whole fake period into a new run and write the ids of its records with a recording."""
    setup_django({})
    from datetime import UTC, datetime

    from calls import downloads, services

    run, _ = services.call_export_start(period_from=datetime(2000, 1, 1, tzinfo=UTC), period_to=datetime.now(UTC))
    services.call_export_list(run=run)
    ids = list(downloads.records_to_download(run).values_list("id", flat=True))
    ids_file.write_text(json.dumps(ids))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recordings", type=int, default=400)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file per phase")
    parser.add_argument("--rate", type=float, default=None, help="B24_DOWNLOAD_RATE_RPS (default: the setting's)")
    parser.add_argument("--concurrency", type=int, default=None, help="B24_DOWNLOAD_CONCURRENCY (default: 4)")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--list-into", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(Path(args.worker[0]), int(args.worker[1]), int(args.worker[2]))
        return
    if args.list_into:
        list_into(args.list_into)
        return
    if args.database_url and "bench" not in args.database_url.rsplit("/", 1)[-1]:
        raise SystemExit("--database-url must name a throw-away database whose name contains 'bench'")
    extra_env = {}
    if args.rate is not None:
        extra_env["B24_DOWNLOAD_RATE_RPS"] = str(args.rate)
    if args.concurrency is not None:
        extra_env["B24_DOWNLOAD_CONCURRENCY"] = str(args.concurrency)
    settings_note = ", ".join(f"{k}={v}" for k, v in extra_env.items()) or "default download settings (20/s, 4)"
    print(f"Bitrix24 recording downloads: {args.recordings} recordings from the fake portal, {settings_note}")
    print(f"  database: {'PostgreSQL' if args.database_url else 'SQLite (fresh file per phase)'}")
    results = []
    for workers in args.workers:
        if args.database_url:
            _empty_calls(args.database_url)
        result = phase(recordings=args.recordings, workers=workers, database_url=args.database_url, extra_env=extra_env)
        results.append(result)
        other = "" if result["other_cores"] is None else f"  (other work meanwhile: {result['other_cores']:.2f} cores)"
        print(
            f"  {workers} worker(s): {result['downloads']} downloads in {result['seconds']:.1f} s = "
            f"{result['per_second']:.1f}/s; records {result['statuses']}{other}"
        )
    best = max(result["per_second"] for result in results)
    met = best >= TARGET_PER_SECOND and all(r["downloads"] >= r["recordings"] for r in results)
    print(f"  target (≥ {TARGET_PER_SECOND:g} downloads/s, every recording stored): {'met' if met else 'MISSED'}")
    if not met:
        raise SystemExit(1)


def _empty_calls(database_url: str) -> None:
    """A PostgreSQL bench database starts every phase without runs, records or buckets."""
    import psycopg

    with psycopg.connect(database_url.replace("postgres://", "postgresql://"), autocommit=True) as connection:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND (tablename LIKE 'calls_%' "
                "OR tablename IN ('integrations_tokenbucket', 'integrations_ratelimitstate', "
                "'integrations_circuitstate', 'integrations_integrationlog'))"
            )
        ]
        if tables:
            connection.execute(f"TRUNCATE {', '.join(tables)} CASCADE")


if __name__ == "__main__":
    main()
