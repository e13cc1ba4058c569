"""A 60-day export against a large portal: listing, downloads, access keys and a slow portal, in numbers.

The fake portal (``tests/fakes/bitrix24.py``) holds 30 000 calls over 120 days
at the real portal's limits (leaky bucket 50 burst / 2 rps), with real-portal
recording URLs that carry an access key (``…&auth=<key>``).  A child process
runs the service the way production does (its logging configuration at INFO,
a fresh SQLite database, the default settings):

1. **listing** — a run over the last 60 days (whole days in
   CALL_EXPORT_TIMEZONE) is listed into the database; requests and seconds are
   counted, the records compared with the portal's calls of that period;
2. **downloads** — ``--downloads`` of its recordings go through
   ``calls.downloads.record_download`` in that process (one worker); five of
   them answer 404 so that failures are written too; the rate is extrapolated
   to all the period's recordings, and labelled so;
3. **access keys** — ``b24_ping`` runs against the same portal; the child's
   output and logs, the ping's output and every text column of every table
   are searched for the access key and the webhook token;
4. **slow portal** — a second portal answers any ``batch`` of more than 25
   commands after 3 s, with the client's ``REQUEST_TIMEOUT_S=2``: the listing
   must still complete, exactly.

    python benchmarks/b24_portal.py [--calls 30000] [--days 120] [--period-days 60] [--downloads 300]

Exits 1 when a target is missed: listing ≤ 15 requests and ≤ 10 s, exact;
≥ 10 downloads/s; no access key or token outside ``calls_callrecord.recording_url``
(where the download needs it); the slow portal's listing exact.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The one column that holds the access key on purpose: the download needs the URL as Bitrix24 gave it.
KEY_COLUMN = ("calls_callrecord", "recording_url")
FAILING_DOWNLOADS = 5


def child(mode: str, period_days: int, downloads: int) -> None:
    """Runs inside the service's own process: Django set up from the environment like manage.py."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mastermobile.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    from calls import downloads as calls_downloads
    from calls import services

    period_from, period_to = services.default_period(days=period_days)
    run, _ = services.call_export_start(period_from=period_from, period_to=period_to)
    started = time.monotonic()
    services.call_export_list(run=run)
    listing_seconds = time.monotonic() - started
    run.refresh_from_db()
    result = {
        "period_from": run.period_from.isoformat(),
        "period_to": run.period_to.isoformat(),
        "listing_seconds": listing_seconds,
        "records": run.records.count(),
        "with_recording": calls_downloads.records_to_download(run).count(),
    }
    if mode == "export":
        ids = list(calls_downloads.records_to_download(run).values_list("id", flat=True)[:downloads])
        started = time.monotonic()
        statuses: dict[str, int] = {}
        for record_id in ids:
            outcome = calls_downloads.record_download(record_id=record_id)
            statuses[outcome.status] = statuses.get(outcome.status, 0) + 1
        result.update(download_seconds=time.monotonic() - started, downloaded=len(ids), statuses=statuses)
    print("RESULT " + json.dumps(result), flush=True)


def run_child(mode: str, env: dict[str, str], args: argparse.Namespace, log: Path) -> dict:
    with log.open("w") as output:
        subprocess.run(
            [sys.executable, __file__, "--child", mode, str(args.period_days), str(args.downloads)],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            check=True,
        )
    line = next(line for line in log.read_text().splitlines() if line.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def portal_env(fake, scratch: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", ""),
        "DATABASE_URL": f"sqlite:///{scratch / 'export.sqlite3'}",
        "LOCAL_STORAGE_DIR": str(scratch / "storage"),
        "B24_BASE_URL": fake.base_url + "/rest",
        "B24_WEBHOOK_USER_ID": fake.user_id,
        "B24_WEBHOOK_TOKEN": fake.token,
        "OPENAI_API_KEY": "",
        "LOG_LEVEL": "INFO",
        **extra,
    }


def expected_calls(fake, result: dict) -> int:
    low, high = datetime.fromisoformat(result["period_from"]), datetime.fromisoformat(result["period_to"])
    return sum(1 for item in fake.items if low <= datetime.fromisoformat(item["CALL_START_DATE"]) <= high)


def listing_requests(fake) -> list:
    return [r for r in fake.requests if r.kind in ("rest", "batch") and "disk.file.get" not in r.path]


def secrets_in_database(database: Path, secrets: list[str]) -> dict[str, int]:
    """``table.column`` → rows holding any of ``secrets``, over every text column of every table."""
    found: dict[str, int] = {}
    with sqlite3.connect(database) as connection:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            columns = [row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')]
            for column in columns:
                condition = " OR ".join(f'CAST("{column}" AS TEXT) LIKE ?' for _ in secrets)
                (count,) = connection.execute(
                    f'SELECT count(*) FROM "{table}" WHERE {condition}', [f"%{secret}%" for secret in secrets]
                ).fetchone()
                if count:
                    found[f"{table}.{column}"] = count
    return found


def _failed_rows(database: Path) -> list[str]:
    with sqlite3.connect(database) as connection:
        return [
            row[0]
            for row in connection.execute(
                "SELECT error_message FROM calls_callrecord WHERE error_code = 'http_404' ORDER BY id"
            )
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=30_000)
    parser.add_argument("--days", type=int, default=120, help="the portal's calls are spread over the last N days")
    parser.add_argument("--period-days", type=int, default=60, help="the export's period: the last N days and today")
    parser.add_argument("--downloads", type=int, default=300, help="recordings downloaded (the rest extrapolated)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), int(args.child[2]))
        return
    from tests.fakes.bitrix24 import FakeBitrix24

    scratch = Path(tempfile.mkdtemp(prefix="b24-portal-"))
    print(
        f"Bitrix24 portal: {args.calls} calls over {args.days} days (fake, 50 burst / 2 rps, auth= recording URLs); "
        f"export of the last {args.period_days} days, default settings; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    with FakeBitrix24(calls=args.calls, days=args.days, rate=2.0, burst=50) as fake:
        # Five of the first recordings the child downloads (the period's oldest) answer 404.
        cut = datetime.now(UTC) - timedelta(days=args.period_days)  # within the period's first day
        in_period = [item for item in fake.items if datetime.fromisoformat(item["CALL_START_DATE"]) >= cut]
        for item in [item for item in in_period if item["CALL_RECORD_URL"]][: FAILING_DOWNLOADS * 5 : 5]:
            fake.recording_faults[item["CALL_ID"]] = "404"
        env = portal_env(fake, scratch)
        log = scratch / "export.log"
        result = run_child("export", env, args, log)
        listing = listing_requests(fake)
        expected = expected_calls(fake, result)
        ping = subprocess.run(
            [sys.executable, "manage.py", "b24_ping"], cwd=ROOT, env=env, capture_output=True, text=True
        )
        secrets = [fake.access_key, fake.token]
        outputs = {"service output and logs": log.read_text(), "b24_ping output": ping.stdout + ping.stderr}
        leaked_output = [name for name, text in outputs.items() if any(secret in text for secret in secrets)]
        in_database = secrets_in_database(scratch / "export.sqlite3", secrets)
        masked_in_logs = log.read_text().count("auth=***")
        log_lines = len(log.read_text().splitlines())
        failed_rows = _failed_rows(scratch / "export.sqlite3")

    rate = result["downloaded"] / result["download_seconds"]
    listing_ok = len(listing) <= 15 and result["listing_seconds"] <= 10 and result["records"] == expected
    print(
        f"  listing:   {result['records']} calls ({expected} in the period on the portal) in {len(listing)} requests, "
        f"{result['listing_seconds']:.1f} s"
    )
    print(
        f"  downloads: {result['downloaded']} recordings in {result['download_seconds']:.1f} s = {rate:.1f}/s (1 worker), "
        f"records {result['statuses']}; all {result['with_recording']} of the period ≈ "
        f"{result['with_recording'] / rate / 60:.0f} min (EXTRAPOLATED)"
    )
    print(
        f"  b24_ping:  exit {ping.returncode}; {ping.stdout.strip().splitlines()[-1] if ping.stdout else ping.stderr}"
    )
    print(
        f"  access key or token in output or logs: {', '.join(leaked_output) or 'none'} "
        f"({log_lines} log lines, {masked_in_logs} with a masked auth=***)"
    )
    print(f"  a failed download's error_message: {failed_rows[0] if failed_rows else 'none failed'}")
    others = {column: count for column, count in in_database.items() if tuple(column.split(".")) != KEY_COLUMN}
    print(
        f"  access key or token in the database: {', '.join(f'{c} ({n} rows)' for c, n in others.items()) or 'none'} "
        f"outside {'.'.join(KEY_COLUMN)} ({in_database.get('.'.join(KEY_COLUMN), 0)} rows, the URL the download needs)"
    )

    slow_scratch = Path(tempfile.mkdtemp(prefix="b24-portal-slow-"))
    with FakeBitrix24(
        calls=args.calls, days=args.days, rate=2.0, burst=50, slow_batch_above=25, slow_batch_seconds=3.0
    ) as slow:
        slow_result = run_child(
            "listing", portal_env(slow, slow_scratch, REQUEST_TIMEOUT_S="2"), args, slow_scratch / "listing.log"
        )
        slow_expected = expected_calls(slow, slow_result)
        slow_requests = len(listing_requests(slow))
        sizes = slow.batch_sizes
    slow_ok = slow_result["records"] == slow_expected
    print(
        f"  slow portal (batch > 25 commands answers after 3 s, REQUEST_TIMEOUT_S=2): {slow_result['records']} calls "
        f"({slow_expected} expected) in {slow_requests} requests, {slow_result['listing_seconds']:.1f} s; "
        f"batch sizes {sizes}"
    )
    met = listing_ok and rate >= 10 and not leaked_output and not others and ping.returncode == 0 and slow_ok
    print(
        "  targets (listing ≤ 15 requests, ≤ 10 s, exact; ≥ 10 downloads/s; no key outside the download URL; "
        f"slow portal exact): {'met' if met else 'MISSED'}"
    )
    if not met:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
