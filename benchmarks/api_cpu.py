"""CPU per request of the returns API in one process: POST /api/v1/returns and a list page of 50.

Usage:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cpu_bench .venv/bin/python benchmarks/api_cpu.py
    .venv/bin/python benchmarks/api_cpu.py --compare 62f1d25      # that revision and this tree, one run

Each request goes through the whole Django stack (middleware, DRF, the
database) with Django's test client, in this process and without a network,
so that ``time.process_time()`` around it is the server's CPU for it — what a
sync gunicorn worker spends, minus the HTTP parsing.  The figure printed is
the median of ``--requests`` requests after ``--warmup`` unmeasured ones,
with the statements each request sent (``BEGIN`` and ``COMMIT`` included).

``--compare REV`` checks REV out into a temporary worktree and measures it
and this tree in alternating rounds on the same database server, so a busy
neighbour slows both alike; every round prints the one-minute load average,
and a round that started above ``--max-load`` is left out of the medians.
Without ``DATABASE_URL`` each tree gets a throw-away SQLite file.  Results
for this repository are in docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BODY = {
    "source": "warehouse",
    "courier_id": "courier-001",
    "items": [
        {"sku": "SKU-1001", "qty": 1, "quality": "new", "reason_code": "customer_changed_mind"},
        {"sku": "SKU-1002", "qty": 2, "quality": "defect", "reason_code": "broken", "imei": "356938035643809"},
    ],
}

# Runs inside the tree being measured (its code on sys.path, its settings), prints one JSON line.
MEASURE = r"""
import json, statistics, sys, time, uuid
import django
django.setup()
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

requests, warmup, body, round_id = int(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4]
call_command("migrate", verbosity=0, interactive=False)
from io import StringIO
out = StringIO()
call_command("issue_token", "--role", "admin", "--subject", "cpu-bench", "--minutes", "60", stdout=out)
client = Client(HTTP_AUTHORIZATION="Bearer " + out.getvalue().strip())
payload = json.dumps(body)

def post(n):
    return client.post(
        "/api/v1/returns", payload, content_type="application/json", HTTP_IDEMPOTENCY_KEY=f"{round_id}-{n}"
    )

def get_list(n):
    return client.get("/api/v1/returns?page_size=50")

result = {}
for name, send, expected in (("post", post, 201), ("list", get_list, 200)):
    samples = []
    for n in range(warmup + requests):
        started = time.process_time()
        response = send(n)
        spent = time.process_time() - started
        if response.status_code != expected:
            sys.exit(f"{name}: HTTP {response.status_code} {response.content[:300]!r}")
        if n >= warmup:
            samples.append(spent * 1000)
    # Counted on one more request, outside the timing: logging the statements costs CPU itself.
    with CaptureQueriesContext(connection) as queries:
        send(warmup + requests)
    result[name] = {"cpu_ms": statistics.median(samples), "statements": len(queries)}
print("CPU_RESULT " + json.dumps(result))
"""


def measure(tree: Path, *, env: dict[str, str], requests: int, warmup: int, round_id: str) -> dict:
    completed = subprocess.run(
        [sys.executable, "-c", MEASURE, str(requests), str(warmup), json.dumps(BODY), round_id],
        cwd=tree,
        env={**env, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
    )
    for line in completed.stdout.splitlines():
        if line.startswith("CPU_RESULT "):
            return json.loads(line.removeprefix("CPU_RESULT "))
    raise SystemExit(f"{tree}: measurement failed (exit {completed.returncode}):\n{completed.stderr[-2000:]}")


def worktree(revision: str, into: Path) -> Path:
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(into), revision], cwd=ROOT, check=True, capture_output=True
    )
    return into


def database_for(tree_name: str, scratch: Path) -> str:
    base = os.environ.get("DATABASE_URL")
    if not base:
        return f"sqlite:///{scratch / (tree_name + '.sqlite3')}"
    # One database per tree: the two revisions may have different migrations.
    return base.rsplit("/", 1)[0] + "/" + base.rsplit("/", 1)[1] + "_" + tree_name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compare", metavar="REV", help="also measure this git revision, in alternating rounds")
    parser.add_argument("--requests", type=int, default=300, help="measured requests per kind and round (300)")
    parser.add_argument("--warmup", type=int, default=30, help="unmeasured requests first (30)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per tree (3)")
    parser.add_argument("--max-load", type=float, default=1.5, help="leave out rounds starting above this load")
    args = parser.parse_args()

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "mastermobile.settings",
        "DJANGO_DEBUG": "false",
        "API_THROTTLE_RATE": "1000000/min",
        "JWT_SECRET": "cpu-bench-" + "x" * 40,
        "LOG_LEVEL": "WARNING",
    }
    with tempfile.TemporaryDirectory(prefix="api-cpu-") as scratch_name:
        scratch = Path(scratch_name)
        trees = {"this": ROOT}
        if args.compare:
            trees = {args.compare: worktree(args.compare, scratch / "before"), "this": ROOT}
        try:
            _create_databases(trees, scratch)
            samples: dict[str, dict[str, list[float]]] = {name: {"post": [], "list": []} for name in trees}
            statements: dict[str, dict[str, int]] = {}
            for round_number in range(args.rounds):
                for name, tree in trees.items():
                    load = os.getloadavg()[0]
                    result = measure(
                        tree,
                        env={**env, "DATABASE_URL": database_for(_slug(name), scratch)},
                        requests=args.requests,
                        warmup=args.warmup,
                        round_id=f"r{round_number}-{os.getpid()}",
                    )
                    kept = load <= args.max_load
                    print(
                        f"round {round_number + 1} {name:>10}: POST {result['post']['cpu_ms']:6.2f} ms "
                        f"({result['post']['statements']} statements)  list {result['list']['cpu_ms']:6.2f} ms "
                        f"({result['list']['statements']} statements)  load {load:.2f}"
                        + ("" if kept else "  (left out: machine busy)"),
                        flush=True,
                    )
                    statements[name] = {kind: result[kind]["statements"] for kind in ("post", "list")}
                    if kept:
                        for kind in ("post", "list"):
                            samples[name][kind].append(result[kind]["cpu_ms"])
            print()
            print(f"{'tree':>10} | POST CPU ms | statements | list CPU ms | statements | rounds kept")
            for name in trees:
                kept = len(samples[name]["post"])
                post = statistics.median(samples[name]["post"]) if kept else float("nan")
                listing = statistics.median(samples[name]["list"]) if kept else float("nan")
                print(
                    f"{name:>10} | {post:11.2f} | {statements[name]['post']:10} | {listing:11.2f} | "
                    f"{statements[name]['list']:10} | {kept}/{args.rounds}"
                )
        finally:
            if args.compare:
                subprocess.run(["git", "worktree", "remove", "--force", str(scratch / "before")], cwd=ROOT)


def _slug(name: str) -> str:
    return "".join(character if character.isalnum() else "_" for character in name).lower()


def _create_databases(trees: dict[str, Path], scratch: Path) -> None:
    if not os.environ.get("DATABASE_URL"):
        return
    import psycopg

    base = os.environ["DATABASE_URL"]
    server = base.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(server.replace("postgres://", "postgresql://"), autocommit=True) as connection:
        for name in trees:
            database = database_for(_slug(name), scratch).rsplit("/", 1)[1]
            connection.execute(f'DROP DATABASE IF EXISTS "{database}"')
            connection.execute(f'CREATE DATABASE "{database}"')


if __name__ == "__main__":
    main()
