"""Listing 30 000 Bitrix24 calls over 60 days: ``batch`` against page by page.

Runs against the fake portal at the real portal's limits (leaky bucket of 50
requests drained at 2 per second) with the client at B24_RATE_LIMIT_RPS=2,
its database token bucket and integration-log rows included.  The
page-by-page path needs ~600 requests at 2 rps (~300 s); by default it is
capped at ``--pages`` pages and the full figure is extrapolated, and labelled
so.  ``--pages 0`` runs it in full.

    python benchmarks/b24_listing.py [--calls 30000] [--days 60] [--pages 40]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup_django(database_url: str | None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mastermobile.settings")
    if database_url is None:
        database_url = f"sqlite:///{tempfile.mkdtemp(prefix='b24-bench-')}/bench.sqlite3"
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


def run(fake_kwargs: dict, *, use_batch: bool, max_pages: int | None) -> dict:
    from django.conf import settings

    from integrations.bitrix24 import client_from_config
    from tests.fakes.bitrix24 import FakeBitrix24

    with FakeBitrix24(**fake_kwargs) as fake:
        config = dataclasses.replace(
            settings.APP_CONFIG,
            b24_base_url=fake.base_url + "/rest",
            b24_webhook_user_id=fake.user_id,
            b24_webhook_token=fake.token,
            b24_rate_limit_rps=2.0,
            b24_backoff_seconds=5.0,
            b24_use_batch=use_batch,
            export_low_rate_mode=False,
        )
        client = client_from_config(config, correlation_id=f"bench-{'batch' if use_batch else 'pages'}")
        date_to = datetime.now(UTC)
        date_from = date_to - timedelta(days=fake_kwargs["days"] + 1)
        started = time.monotonic()
        ids: list[str] = []
        pages = 0
        total = None
        for page in client.iter_call_pages(date_from, date_to):
            ids.extend(item["CALL_ID"] for item in page.items)
            total = page.total
            pages += 1
            if max_pages and pages >= max_pages:
                break
        elapsed = time.monotonic() - started
        rejected = sum(1 for r in fake.requests if r.status == 503)
        return {
            "requests": len(fake.requests),
            "rejected": rejected,
            "seconds": elapsed,
            "pages": pages,
            "calls": len(ids),
            "total": total,
            "ids": ids,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=30_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--pages", type=int, default=40, help="cap of the page-by-page run (0: run in full)")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()
    setup_django(args.database_url)
    fake_kwargs = {"calls": args.calls, "days": args.days, "rate": 2.0, "burst": 50}

    batched = run(fake_kwargs, use_batch=True, max_pages=None)
    paged = run(fake_kwargs, use_batch=False, max_pages=args.pages or None)

    total_pages = math.ceil(batched["total"] / 50)
    print(f"Bitrix24 listing: {args.calls} calls over {args.days} days, fake portal at 50 burst / 2 rps, client 2 rps")
    print(
        f"  batched:      {batched['requests']:>4} requests  {batched['seconds']:7.1f} s  "
        f"{batched['calls']} calls  ({batched['rejected']} rejected by the portal)"
    )
    if paged["pages"] < total_pages:
        per_page = paged["seconds"] / paged["pages"]
        print(
            f"  page-by-page: {paged['requests']:>4} requests  {paged['seconds']:7.1f} s  "
            f"for the first {paged['pages']} of {total_pages} pages (measured)"
        )
        print(
            f"  page-by-page: {total_pages:>4} requests  {per_page * total_pages:7.1f} s  "
            f"for all {total_pages} pages (EXTRAPOLATED from {per_page:.3f} s/page)"
        )
    else:
        print(f"  page-by-page: {paged['requests']:>4} requests  {paged['seconds']:7.1f} s  {paged['calls']} calls")
    same = batched["ids"][: len(paged["ids"])] == paged["ids"]
    print(f"  identical results on the compared prefix ({len(paged['ids'])} calls): {'yes' if same else 'NO'}")
    target = batched["requests"] <= 15 and batched["seconds"] <= 10 and batched["calls"] == args.calls and same
    print(f"  target (batched ≤ 15 requests and ≤ 10 s, every call listed): {'met' if target else 'MISSED'}")
    if not target:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
