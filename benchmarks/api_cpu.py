"""CPU per request of the returns API in one process: POST /api/v1/returns and a list page of 50.

Usage:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cpu_bench .venv/bin/python benchmarks/api_cpu.py
    .venv/bin/python benchmarks/api_cpu.py --compare 0df9977      # that revision and this tree, one run

Each request goes through the whole Django stack (middleware, DRF, the
database) with Django's test client, in this process and without a network,
so that ``time.process_time()`` around it is the server's CPU for it — what a
sync gunicorn worker spends, minus the HTTP parsing.  The figure printed is
the median over ``--requests`` requests after ``--warmup`` unmeasured ones,
with the statements each request sent (``BEGIN`` and ``COMMIT`` included).

``--compare REV`` checks REV out into a temporary worktree.  Each tree is
served by a measuring process of its own, started once; the two take turns
in batches of ``--batch`` requests, so that the speed of this shared virtual
machine, which drifts by a factor of 1.5 within minutes, weighs on both
trees alike.  Without ``DATABASE_URL`` each tree gets a throw-away SQLite
file.  Results for this repository are in docs/performance.md.
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
KINDS = ("post", "list")

# Runs inside the tree being measured (its code on sys.path, its settings).  Reads commands from stdin:
# "<kind> <n>" sends n requests and answers their CPU times in ms; "count <kind>" answers the statements
# one more request sends.  Every answer is one JSON line.
MEASURE = r"""
import json, sys, time
import django
django.setup()
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

body, run_id = json.loads(sys.argv[1]), sys.argv[2]
call_command("migrate", verbosity=0, interactive=False)
from io import StringIO
out = StringIO()
call_command("issue_token", "--role", "admin", "--subject", "cpu-bench", "--minutes", "600", stdout=out)
client = Client(HTTP_AUTHORIZATION="Bearer " + out.getvalue().strip())
payload = json.dumps(body)
sent = 0

def post():
    return client.post(
        "/api/v1/returns", payload, content_type="application/json", HTTP_IDEMPOTENCY_KEY=f"{run_id}-{sent}"
    ), 201

def get_list():
    return client.get("/api/v1/returns?page_size=50"), 200

SENDERS = {"post": post, "list": get_list}
print(json.dumps("ready"), flush=True)
for command in sys.stdin:
    verb, argument = command.split()
    if verb == "count":
        # Outside the timing: logging the statements costs CPU itself.
        with CaptureQueriesContext(connection) as queries:
            sent += 1
            SENDERS[argument]()
        print(json.dumps(len(queries)), flush=True)
        continue
    samples = []
    for _ in range(int(argument)):
        sent += 1
        started = time.process_time()
        response, expected = SENDERS[verb]()
        samples.append((time.process_time() - started) * 1000)
        if response.status_code != expected:
            sys.exit(f"{verb}: HTTP {response.status_code} {response.content[:300]!r}")
    print(json.dumps(samples), flush=True)
"""


class Measurer:
    """One measuring process serving one tree."""

    def __init__(self, tree: Path, *, env: dict[str, str], run_id: str):
        self.tree = tree
        self.process = subprocess.Popen(
            [sys.executable, "-c", MEASURE, json.dumps(BODY), run_id],
            cwd=tree,
            env={**env, "PYTHONPATH": str(tree)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._answer()  # "ready"

    def send(self, command: str):
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self._answer()

    def _answer(self):
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"{self.tree}: measurement failed (exit {self.process.wait()}), see its output above")
        return json.loads(line)

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=60)


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
    parser.add_argument("--compare", metavar="REV", help="also measure this git revision, taking turns")
    parser.add_argument("--requests", type=int, default=600, help="measured requests per kind and tree (600)")
    parser.add_argument("--warmup", type=int, default=30, help="unmeasured requests first (30)")
    parser.add_argument("--batch", type=int, default=20, help="requests per turn (20)")
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
        measurers: dict[str, Measurer] = {}
        try:
            _create_databases(trees, scratch)
            for name, tree in trees.items():
                tree_env = {**env, "DATABASE_URL": database_for(_slug(name), scratch)}
                measurers[name] = Measurer(tree, env=tree_env, run_id=f"{_slug(name)}-{os.getpid()}")
            results: dict[str, dict[str, dict]] = {name: {} for name in trees}
            for kind in KINDS:
                for measurer in measurers.values():
                    measurer.send(f"{kind} {args.warmup}")
                samples: dict[str, list[float]] = {name: [] for name in trees}
                loads = []
                for _ in range(max(1, args.requests // args.batch)):
                    loads.append(os.getloadavg()[0])
                    for name, measurer in measurers.items():
                        samples[name] += measurer.send(f"{kind} {args.batch}")
                for name, measurer in measurers.items():
                    results[name][kind] = {
                        "median": statistics.median(samples[name]),
                        "quartiles": statistics.quantiles(samples[name], n=4),
                        "statements": measurer.send(f"count {kind}"),
                    }
                print(f"{kind}: {len(samples[name])} requests per tree, load {min(loads):.2f}–{max(loads):.2f}")
            print()
            print(f"{'tree':>10} | POST CPU ms (quartiles)   | statements | list CPU ms (quartiles)   | statements")
            for name in trees:
                cells = []
                for kind in KINDS:
                    result = results[name][kind]
                    low, _, high = result["quartiles"]
                    cells.append(f"{result['median']:6.2f} ({low:5.2f}–{high:5.2f})    | {result['statements']:10}")
                print(f"{name:>10} | " + " | ".join(cells))
            if args.compare:
                for kind in KINDS:
                    ratio = results["this"][kind]["median"] / results[args.compare][kind]["median"]
                    print(f"{kind}: this tree / {args.compare} = {ratio:.2f}")
        finally:
            for measurer in measurers.values():
                measurer.close()
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
