"""Where the CPU of one POST /api/v1/returns goes: the same process with one part switched off at a time.

Usage:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cpu_parts .venv/bin/python benchmarks/api_cpu_parts.py

Each variant replaces one part of the write path with a no-op (``mock.patch``)
and the variants take turns in batches of ``--batch`` requests in this one
process, so that the drift of a shared machine's speed weighs on all alike.
Printed: the median CPU per POST of each variant, what switching the part off
saves, and the floor every API request pays — an authenticated GET of a
return that does not exist (authentication, throttle, one SELECT, a problem
answer).  The variants are measurements only: none of them is a valid way to
run the API.  Results are in docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
import uuid
from io import StringIO
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mastermobile.settings")
os.environ.setdefault("DJANGO_DEBUG", "false")
os.environ.setdefault("API_THROTTLE_RATE", "1000000/min")
os.environ.setdefault("JWT_SECRET", "cpu-bench-" + "x" * 40)
os.environ.setdefault("LOG_LEVEL", "WARNING")

from api_cpu import BODY  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=30, help="turns per variant (30)")
    parser.add_argument("--batch", type=int, default=10, help="requests per turn (10)")
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from integrations.outbox import services as outbox
    from mastermobile.api import audit, throttling
    from returns import services

    call_command("migrate", verbosity=0, interactive=False)
    token = StringIO()
    call_command("issue_token", "--role", "admin", "--subject", "cpu-parts", "--minutes", "600", stdout=token)
    client = Client(HTTP_AUTHORIZATION="Bearer " + token.getvalue().strip())
    payload = json.dumps(BODY)
    run_id = uuid.uuid4().hex[:8]
    sent = 0

    def post() -> None:
        nonlocal sent
        sent += 1
        response = client.post(
            "/api/v1/returns", payload, content_type="application/json", HTTP_IDEMPOTENCY_KEY=f"{run_id}-{sent}"
        )
        if response.status_code != 201:
            sys.exit(f"POST: HTTP {response.status_code} {response.content[:300]!r}")

    def missing() -> None:
        response = client.get(f"/api/v1/returns/{uuid.UUID(int=0)}")
        if response.status_code != 404:
            sys.exit(f"GET: HTTP {response.status_code}")

    variants: dict[str, list[Any]] = {
        "everything": [],
        "no throttle count": [mock.patch.object(throttling, "count_request", lambda *a, **k: True)],
        "no audit row": [mock.patch.object(audit.InboundAuditMixin, "_log_write", lambda *a, **k: None)],
        "no outbox event": [mock.patch.object(services.events, "return_created", lambda *a, **k: None)],
        "no delivery task": [mock.patch.object(outbox, "_enqueue", lambda *a, **k: None)],
        "no history rows": [mock.patch.object(services, "copy_to_history", lambda *a, **k: 0)],
    }
    measured: dict[str, list[float]] = {name: [] for name in [*variants, "floor: GET 404"]}
    for _ in range(40):
        post()
    loads = []
    for _ in range(args.rounds):
        loads.append(os.getloadavg()[0])
        for name, patches in variants.items():
            with contextlib.ExitStack() as stack:
                for patch in patches:
                    stack.enter_context(patch)
                measured[name] += _timed(post, args.batch)
        measured["floor: GET 404"] += _timed(missing, args.batch)
    base = statistics.median(measured["everything"])
    print(f"{args.rounds * args.batch} requests per variant, load {min(loads):.2f}–{max(loads):.2f}")
    for name, samples in measured.items():
        median = statistics.median(samples)
        print(f"{name:>18}: {median:6.2f} ms" + (f"  (saves {base - median:5.2f})" if name in variants else ""))


def _timed(send, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.process_time()
        send()
        samples.append((time.process_time() - started) * 1000)
    return samples


if __name__ == "__main__":
    main()
