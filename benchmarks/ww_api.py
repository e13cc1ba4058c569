"""Load the Walking Warehouse API and time its outbox deliveries (issue 13, item 9; EVT-05).

Usage:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/wwbench .venv/bin/python benchmarks/ww_api.py
        [--broker orm|redis|both] [--couriers 20] [--rate 50] [--seconds 20] [--connections 8]

Needs a throw-away PostgreSQL database in ``DATABASE_URL`` (its name must
contain ``bench``: the Walking Warehouse, outbox, idempotency and django-q2
tables are emptied at the start of each broker's run) and, for the Redis
broker, Redis at ``REDIS_HOST``/``REDIS_PORT`` (default 127.0.0.1:6379; the
queue lives in ``--redis-db``, 7 by default, and nothing is flushed; the
server's throttle counters go to Redis database 1 as in production).  Without
PostgreSQL (or with a database not named so) it says so and exits 0, so
``make bench`` runs the others; without
Redis only the ORM broker runs.

Each broker runs in a process of its own (django-q2 reads its broker once):

1. **Setup** through :mod:`couriers.services`, before any server starts:
   ``--couriers`` couriers, each with ``--stock`` units of one SKU in its
   backpack, and enough ASSIGNED orders for every status request (redos
   included); the events the setup wrote are deleted and their deliveries
   purged; one active signed webhook subscription points at a receiver in
   this process (:mod:`tests.fakes.webhook_receiver`); the tables are ANALYZEd.
2. ``manage.py worker`` (the django-q2 cluster ``make run`` starts) and
   gunicorn (``--workers`` sync workers, rate limit lifted, DEBUG off) on
   127.0.0.1, both with ``Q_BROKER`` set to the broker.
3. **Status change** at ``--rate`` req/s for ``--seconds``:
   ``PATCH /api/v1/ww/orders/{id}/status {"status": "IN_TRANSIT"}`` as the
   owning courier, a fresh Idempotency-Key each, every order once.
4. **Backpack sale** at ``--rate``: ``POST
   /api/v1/ww/couriers/{id}/stock/movements`` of one unit, the couriers in turn.
5. **Sale closed loop** (``wrk`` on PATH, ``--connections`` > 0): maximum
   throughput.  Every wrk thread is its own Lua state with the same unseeded
   ``math.random``, so keys are numbered per thread (``run-thread-n``), never
   drawn at random.

The fixed-rate client measures each latency from the *scheduled* send time.
After each phase the events it produced are awaited (polling with a deadline)
and their outbox latency printed: ``first_attempt_at − created_at`` (the
worker's first claim) and ``receiver got it − created_at``, p50/p95/max, and
how many missed the 2 s target or were not received by the deadline.
``created_at`` is taken inside the request's transaction, a few milliseconds
before its commit.

Foreign load: while a phase runs, the CPU time of the whole machine
(``/proc/stat``) and of this benchmark (this process, its children —
gunicorn, the cluster, wrk — and the PostgreSQL backends of its database) are
sampled; a phase in which other processes used more than ``--foreign-cores``
on average is printed as DISCARDED and run again, up to ``--redos`` times.
Results for this repository are in docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The HTTP phases and the server as the returns benchmark runs them; the cluster as the STT benchmark does.
from machine import busy_ticks  # noqa: E402
from returns_api import (  # noqa: E402
    WRK_RESULT_LUA,
    PhaseResult,
    free_port,
    python_fixed_rate,
    run_wrk,
    start_server,
)
from stt_pipeline import Worker, setup_django, unavailable, wait_until_ready  # noqa: E402

SKU = "SKU-WW-BENCH"
COURIER_PREFIX = "ww-bench-"
TARGET_S = 2.0  # EVT-05: p95 from commit to the first delivery attempt

# Per-thread key numbering (see the module docstring); the couriers are taken in turn, each with its token.
WRK_SCRIPT = (
    r"""
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_id", #threads)
end

function init(args)
  run_id = args[1]
  couriers = {}
  for line in io.lines(args[2]) do
    local id, token = line:match("^(%S+) (%S+)$")
    table.insert(couriers, {id = id, token = token})
  end
  body = '{"kind":"sale","items":[{"sku":"' .. args[3] .. '","qty":1}]}'
  sent, non2xx = 0, 0
end

function request()
  sent = sent + 1
  local courier = couriers[(thread_id + sent) % #couriers + 1]
  local headers = {
    ["Authorization"] = "Bearer " .. courier.token,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = run_id .. "-" .. thread_id .. "-" .. sent,
  }
  return wrk.format("POST", "/api/v1/ww/couriers/" .. courier.id .. "/stock/movements", headers, body)
end

"""
    + WRK_RESULT_LUA
)


# Foreign load ----------------------------------------------------------------


class CpuShare:
    """CPU seconds of the whole machine and of this benchmark between :meth:`start` and :meth:`stop`.

    Ours: this process and its descendants (children's reaped CPU included)
    and the PostgreSQL backends of ``database`` (their title names it).  Each
    process counts from its first sample (0 when it appeared mid-phase) to its
    last, so sampling every ``interval`` keeps processes that exit.
    """

    def __init__(self, database: str, interval: float = 0.5):
        self.database = database
        self.interval = interval
        self.tick = os.sysconf("SC_CLK_TCK")
        self.first: dict[int, int] = {}
        self.last: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _ours(self) -> dict[int, int]:
        table: dict[int, tuple[int, int]] = {}
        postgres: dict[int, int] = {}
        marker = f" {self.database} "
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
                title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            pid = int(entry.name)
            # After the command name: state ppid … utime (12th) stime cutime cstime (15th).
            cpu = sum(int(value) for value in fields[11:15])
            table[pid] = (int(fields[1]), cpu)
            if title.startswith("postgres:") and marker in title + " ":
                postgres[pid] = cpu
        ours = dict(postgres)
        root = os.getpid()
        for pid, (_ppid, cpu) in table.items():
            seen, current = 0, pid
            while current and current != root and seen < 32:  # walk up to this process, or to init
                current, seen = table.get(current, (0, 0))[0], seen + 1
            if current == root:
                ours[pid] = cpu
        return ours

    def _sample(self, *, baseline: bool = False) -> None:
        for pid, cpu in self._ours().items():
            if baseline:
                self.first[pid] = cpu
            self.first.setdefault(pid, 0)
            self.last[pid] = cpu

    def start(self) -> None:
        self.first, self.last = {}, {}
        self.load_before = os.getloadavg()[0]
        self._busy_start, self._wall_start = busy_ticks(), time.monotonic()
        self._sample(baseline=True)
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(self.interval):
                self._sample()

        self._thread = threading.Thread(target=loop, name="cpu-share", daemon=True)
        self._thread.start()

    def stop(self) -> tuple[float, float, float]:
        """``(own cores, foreign cores, seconds)`` averaged over the phase."""
        self._stop.set()
        if self._thread:
            self._thread.join()
        self._sample()
        seconds = time.monotonic() - self._wall_start
        busy = (busy_ticks() - self._busy_start) / self.tick
        own = sum(self.last[pid] - self.first[pid] for pid in self.last) / self.tick
        self.load_after = os.getloadavg()[0]
        return own / seconds, max(0.0, busy - own) / seconds, seconds


# Setup -----------------------------------------------------------------------


def reset_tables() -> None:
    """Empty what a previous run left in the tables this benchmark writes."""
    from django.apps import apps
    from django.db import connection
    from django_q.models import OrmQ, Task

    from couriers.models import Courier
    from integrations.models import CircuitState, IntegrationLog
    from integrations.outbox.models import OutboxEvent, WebhookSubscription
    from mastermobile.models import IdempotencyRecord

    models = [
        *(model for model in apps.get_app_config("couriers").get_models() if model is not Courier),
        OutboxEvent,
        WebhookSubscription,
        IntegrationLog,
        CircuitState,
        IdempotencyRecord,
        Task,
        OrmQ,
    ]
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE " + ", ".join(f'"{model._meta.db_table}"' for model in models) + " CASCADE")
    # Couriers are the returns app's table: only this benchmark's go.
    Courier.objects.filter(courier_id__startswith=COURIER_PREFIX).delete()


def prepare(*, couriers: int, orders: int, stock: int, run: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Couriers with stock and ASSIGNED orders; ``(courier ids, [(order id, courier id)])``."""
    from django_q.brokers import get_broker

    from couriers import services
    from integrations.outbox.models import OutboxEvent

    admin = services.Actor(role="admin", subject="bench")
    courier_ids = [f"{COURIER_PREFIX}{index:03d}" for index in range(couriers)]
    for courier_id in courier_ids:
        services.courier_create(courier_id=courier_id, display_name=f"Bench courier {courier_id}")
        services.stock_move(courier_id=courier_id, kind="load", actor=admin, items=[{"sku": SKU, "qty": stock}])
    line = services.LineData(sku=SKU, name="Bench item", qty=1, price=Decimal("100.00"))
    assigned = []
    for index in range(orders):
        courier_id = courier_ids[index % couriers]
        order = services.order_create(
            lines=[line], actor=admin, id=f"{run}-{index:06d}", title="Bench order", customer_name="Bench customer"
        )
        services.order_assign(order_id=order.id, courier_id=courier_id, actor=admin)
        assigned.append((order.id, courier_id))
    # The setup's own events are not what is measured: no worker runs yet, so nothing has them.
    OutboxEvent.objects.all().delete()
    get_broker().purge_queue()
    return courier_ids, assigned


def analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def tokens_for(courier_ids: list[str]) -> dict[str, str]:
    from django.conf import settings

    from mastermobile.api.authentication import issue_token

    config = settings.APP_CONFIG
    return {
        courier_id: issue_token(
            subject=courier_id,
            role="courier",
            lifetime=timedelta(minutes=60),
            secret=config.jwt_secret,
            issuer=config.jwt_issuer,
        )
        for courier_id in courier_ids
    }


# Outbox latency --------------------------------------------------------------


@dataclass
class Delivery:
    events: int = 0
    first_attempt: list[float] = field(default_factory=list)
    received: list[float] = field(default_factory=list)
    not_received: int = 0
    waited_s: float = 0.0


def await_deliveries(receiver, *, type: str, since, until, deadline_s: float) -> Delivery:
    """Poll until every event of ``type`` created in [since, until] was attempted and received, or the deadline."""
    from integrations.outbox.models import OutboxEvent

    events = OutboxEvent.objects.filter(type=type, created_at__gte=since, created_at__lte=until)
    started = time.monotonic()
    deadline = started + deadline_s
    while True:
        rows = list(events.values_list("event_id", "created_at", "first_attempt_at"))
        got = {received.body["event_id"]: received.at for received in list(receiver.events)}
        missing = [row for row in rows if row[2] is None or str(row[0]) not in got]
        if not missing or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    result = Delivery(events=len(rows), not_received=len(missing), waited_s=time.monotonic() - started)
    for event_id, created_at, first_attempt_at in rows:
        if first_attempt_at is not None:
            result.first_attempt.append((first_attempt_at - created_at).total_seconds())
        if str(event_id) in got:
            result.received.append(got[str(event_id)] - created_at.timestamp())
    return result


def describe(values: list[float]) -> str:
    if not values:
        return "none"
    ordered = sorted(values)
    p95 = statistics.quantiles(ordered, n=100, method="inclusive")[94] if len(ordered) > 1 else ordered[0]
    late = sum(value > TARGET_S for value in ordered)
    return (
        f"p50={statistics.median(ordered) * 1000:6.0f} ms  p95={p95 * 1000:6.0f} ms  "
        f"max={ordered[-1] * 1000:6.0f} ms  >{TARGET_S:g}s={late}"
    )


def delivery_report(name: str, delivery: Delivery) -> str:
    return (
        f"  outbox {name}: events={delivery.events} not received={delivery.not_received} "
        f"(waited {delivery.waited_s:.1f} s)\n"
        f"    first attempt − created_at: {describe(delivery.first_attempt)}\n"
        f"    received     − created_at: {describe(delivery.received)}"
    )


# Phases ----------------------------------------------------------------------


def wrk_sale(name: str, *, url: str, tokens: dict[str, str], connections: int, seconds: float) -> PhaseResult:
    with tempfile.TemporaryDirectory(prefix="ww-bench-") as workdir:
        script, couriers = Path(workdir) / "ww_sale.lua", Path(workdir) / "couriers.txt"
        script.write_text(WRK_SCRIPT)
        couriers.write_text("".join(f"{courier_id} {token}\n" for courier_id, token in tokens.items()))
        return run_wrk(
            name,
            script=script,
            url=url,
            connections=connections,
            seconds=seconds,
            script_args=[uuid.uuid4().hex, str(couriers), SKU],
        )


def run_broker(args: argparse.Namespace) -> None:
    """One broker, in this process: setup, cluster, server, the phases and their deliveries."""
    from tests.fakes.webhook_receiver import WebhookReceiver

    database_url = os.environ["DATABASE_URL"]
    database = urlsplit(database_url).path.lstrip("/")
    work = Path(tempfile.mkdtemp(prefix="ww-bench-"))
    env = {
        **os.environ,
        "Q_BROKER": args.broker,
        "REDIS_HOST": args.redis_host,
        "REDIS_PORT": str(args.redis_port),
        "REDIS_DB": str(args.redis_db),
        "Q_WORKERS": str(args.q_workers),
        "JWT_SECRET": os.environ.get("JWT_SECRET") or secrets.token_hex(32),
        "API_THROTTLE_RATE": "1000000/min",
        "LOG_LEVEL": "WARNING",
        "APP_ENV": "local",
        "DJANGO_DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "WORKER_METRICS_HOST": "127.0.0.1",
        "WORKER_METRICS_PORT": str(free_port()),
        "PROMETHEUS_MULTIPROC_DIR": str(work / "prometheus"),
        "LOCAL_STORAGE_DIR": str(work / "storage"),
    }
    (work / "prometheus").mkdir()
    setup_django(env)
    from django.conf import settings
    from django.utils import timezone

    from integrations.outbox.models import EventType, WebhookSubscription

    per_phase = max(1, int(args.rate * args.seconds))
    orders = per_phase * (1 + args.redos) if args.rate else 0
    run = f"wwb{uuid.uuid4().hex[:8]}"
    setup_started = time.monotonic()
    reset_tables()
    courier_ids, assigned = prepare(couriers=args.couriers, orders=orders, stock=args.stock, run=run)
    analyze()
    tokens = tokens_for(courier_ids)
    print(
        f"broker={args.broker} database={database} couriers={args.couriers} orders={orders} "
        f"setup={time.monotonic() - setup_started:.1f} s  poll={settings.Q_CLUSTER.get('poll', '-')} "
        f"q_workers={args.q_workers} gunicorn workers={args.workers}",
        flush=True,
    )
    receiver = WebhookReceiver(secret=secrets.token_hex(16)).start()
    WebhookSubscription.objects.create(name="bench", url=receiver.url, secret=receiver.secret)
    worker = server = None
    meter = CpuShare(database)
    try:
        worker = Worker(env, work / "worker.log")
        wait_until_ready(worker, args.q_workers)
        server, url = start_server(workers=args.workers, threads=1, env=env)
        session = requests.Session()
        sale_body = {"kind": "sale", "items": [{"sku": SKU, "qty": 1}]}
        next_order = iter(assigned).__next__
        sale_turn = itertools.count()

        def sale(http: requests.Session) -> requests.Response:
            courier_id = courier_ids[next(sale_turn) % len(courier_ids)]
            return http.post(
                f"{url}/api/v1/ww/couriers/{courier_id}/stock/movements",
                json=sale_body,
                headers={"Authorization": f"Bearer {tokens[courier_id]}", "Idempotency-Key": str(uuid.uuid4())},
                timeout=30,
            )

        def status(http: requests.Session) -> requests.Response:
            order_id, courier_id = next_order()
            return http.patch(
                f"{url}/api/v1/ww/orders/{order_id}/status",
                json={"status": "IN_TRANSIT"},
                headers={"Authorization": f"Bearer {tokens[courier_id]}", "Idempotency-Key": str(uuid.uuid4())},
                timeout=30,
            )

        # Warm-up: every gunicorn worker and the cluster's first delivery; its events are not measured.
        for _ in range(4 * args.workers):
            sale(session)

        def measured(name: str, event_type: str, phase) -> None:
            for attempt in range(1 + args.redos):
                since = timezone.now()
                meter.start()
                result = phase()
                own, foreign, _ = meter.stop()
                until = timezone.now()
                delivery = await_deliveries(
                    receiver, type=event_type, since=since, until=until, deadline_s=args.deadline
                )
                load = f"load {meter.load_before:.2f}→{meter.load_after:.2f} own={own:.2f} foreign={foreign:.2f} cores"
                discarded = foreign > args.foreign_cores
                print(f"{result.report()}  [{load}]{'  DISCARDED: foreign load' if discarded else ''}", flush=True)
                print(delivery_report(event_type, delivery), flush=True)
                if not discarded:
                    return
                if attempt == args.redos:
                    print(f"  {name}: still under foreign load after {args.redos} redos; numbers above are suspect")

        if args.rate:
            measured(
                "status",
                EventType.ORDER_STATUS_CHANGED,
                lambda: python_fixed_rate(
                    f"PATCH status IN_TRANSIT @{args.rate:g}/s", send=status, rate=args.rate, seconds=args.seconds
                ),
            )
            measured(
                "sale",
                EventType.STOCK_MOVED,
                lambda: python_fixed_rate(
                    f"POST sale @{args.rate:g}/s", send=sale, rate=args.rate, seconds=args.seconds
                ),
            )
        if args.connections and shutil.which("wrk"):
            measured(
                "sale closed loop",
                EventType.STOCK_MOVED,
                lambda: wrk_sale(
                    f"POST sale wrk c={args.connections}",
                    url=url,
                    tokens=tokens,
                    connections=args.connections,
                    seconds=args.seconds,
                ),
            )
        elif args.connections:
            print("wrk is not on PATH (Debian: apt-get install wrk): closed-loop phase skipped")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        if worker is not None:
            worker.stop()
        receiver.stop()
        from django.db import connections

        connections.close_all()
        if args.keep:
            print(f"kept the worker log in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--broker", choices=["orm", "redis", "both"], default="both")
    parser.add_argument("--couriers", type=int, default=20)
    parser.add_argument("--stock", type=int, default=100_000, help="units of the SKU in each backpack")
    parser.add_argument("--rate", type=float, default=50, help="fixed-rate phases in req/s, 0 to skip (default 50)")
    parser.add_argument("--seconds", type=float, default=20, help="length of each phase (default 20, max 120)")
    parser.add_argument("--connections", type=int, default=8, help="wrk closed-loop sale connections, 0 to skip")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (default 2)")
    parser.add_argument("--q-workers", type=int, default=2, help="django-q2 workers (Q_WORKERS, default 2)")
    parser.add_argument("--deadline", type=float, default=60, help="seconds to wait for a phase's deliveries")
    parser.add_argument("--foreign-cores", type=float, default=0.3, help="foreign CPU above which a phase is redone")
    parser.add_argument("--redos", type=int, default=1, help="how often a phase under foreign load is run again")
    parser.add_argument("--redis-db", type=int, default=7, help="Redis database of the broker (tests use 0)")
    parser.add_argument("--keep", action="store_true", help="leave the worker log")
    args = parser.parse_args()
    if not 1 <= args.seconds <= 120 or not 0 <= args.rate <= 500 or not 1 <= args.couriers <= 500:
        parser.error("--seconds must be 1…120, --rate 0…500 and --couriers 1…500")
    args.redis_host = os.environ.get("REDIS_HOST", "127.0.0.1")
    args.redis_port = int(os.environ.get("REDIS_PORT", "6379"))
    database_url = os.environ.get("DATABASE_URL", "")
    if urlsplit(database_url).scheme not in ("postgres", "postgresql", "pgsql"):
        print("skipped: the Walking Warehouse benchmark needs a PostgreSQL DATABASE_URL (a throw-away database)")
        return
    if "bench" not in urlsplit(database_url).path:
        print("skipped: DATABASE_URL must name a throw-away database (its name containing 'bench'): tables are emptied")
        return
    if args.broker != "both":
        run_broker(args)
        return
    print(f"machine: {os.cpu_count()} CPUs, {os.uname().release}; rate={args.rate:g}/s seconds={args.seconds:g}")
    for broker in ("orm", "redis"):
        if broker == "redis":
            reason = unavailable(database_url, args.redis_host, args.redis_port)
            if reason:
                print(f"redis broker skipped: {reason}")
                continue
        print(f"== broker {broker}", flush=True)
        forwarded = [arg for arg in sys.argv[1:] if not arg.startswith("--broker")]
        with contextlib.suppress(ValueError):
            position = forwarded.index("both")
            del forwarded[position]
        subprocess.run([sys.executable, __file__, *forwarded, "--broker", broker], check=True)


if __name__ == "__main__":
    main()
