"""Time the back-office at a year's volumes: every changelist with its filters, a search, a deep page, change pages.

Usage:
    .venv/bin/python benchmarks/admin_scale.py [--database-url postgres://postgres@127.0.0.1:5432/adminscale]

It needs a throw-away PostgreSQL database whose name contains ``scale`` or
``bench`` (it empties the tables it fills; ``--database-url`` or
``ADMIN_SCALE_DATABASE_URL``); when there is none it says so and exits 0, as
``make bench`` expects.  It migrates it, loads the volumes
with ``INSERT … SELECT FROM generate_series`` (1 000 000 call records, 200 000
transcripts, 200 000 returns with 400 000 lines, 1 000 000 integration-log
rows, 200 000 courier orders with their lines, status log and assignments,
200 000 stock movements; minutes, not hours) unless they are already there,
runs ``VACUUM ANALYZE``, starts gunicorn with DEBUG off, logs in as a staff
superuser and requests every page ``--repeat`` times after one warm-up,
printing the median and the slowest of the timed requests.  A page that does
not answer 200 is reported as such.

Then it renders each page once more in this process with Django's test
client, times every SQL statement, and prints the slowest statement of each
page and the slowest ten overall: what to look at when a page is slow.

Every phase prints how many cores other work on the machine took meanwhile
(``benchmarks/machine.py``); compare runs only when that is low.  Results for
this repository are in docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import requests
from machine import OtherLoad

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/adminscale"
PASSWORD = "bench-admin-password"  # a throw-away database's only account
USERNAME = "bench-admin"

CALLS = 1_000_000
TRANSCRIPT_EVERY = 5  # every fifth call has a transcript: 200 000
RETURNS = 200_000
LINES_PER_RETURN = 2
LOG_ROWS = 1_000_000
ORDERS = 200_000
MOVEMENTS = 200_000
COURIERS = 50
SKUS = 5000
EMPLOYEES = 200
WORDS = [
    "здравствуйте",
    "заказ",
    "доставка",
    "курьер",
    "возврат",
    "оплата",
    "телефон",
    "адрес",
    "магазин",
    "скидка",
    "гарантия",
    "ремонт",
    "замена",
    "чек",
    "карта",
    "наличные",
    "срок",
    "склад",
    "товар",
    "экран",
    "батарея",
    "наушники",
    "чехол",
    "зарядка",
    "смартфон",
    "планшет",
    "ноутбук",
    "менеджер",
    "клиент",
    "спасибо",
    "вопрос",
    "ответ",
    "сегодня",
    "завтра",
    "вечером",
    "утром",
    "номер",
    "статус",
    "отмена",
    "перезвоните",
]


def _seed_sql() -> list[tuple[str, str]]:
    """(table group, statement): the volumes, generated in the database itself."""
    words = "ARRAY[" + ",".join(f"'{word}'" for word in WORDS) + "]"
    codes = "ARRAY['no_recording','stt_disabled','max_attempts','http_404','timeout','no_speech','file_too_large']"
    return [
        (
            "calls",
            "INSERT INTO calls_callexport (run_id, period_from, period_to, status, started_at, options, checkpoint,"
            " total_calls, processed_calls, error_calls, missing_audio_calls, skipped_calls, total_duration_sec,"
            " transcribed_minutes, total_cost, currency_code, created_at, updated_at, downloaded_calls, error_message,"
            " skipped_by_reason, package_error) VALUES ('00000000-0000-0000-0000-0000000000be', now() - interval"
            " '366 days', now(), 'completed', now(), '{}', '{}', 0, 0, 0, 0, 0, 0, 0, 0, 'USD', now(), now(), 0, '',"
            " '{}', '')",
        ),
        (
            "calls",
            # Statuses as a year looks: mostly completed, some errors and skips with their codes.
            f"""INSERT INTO calls_callrecord (call_id, record_id, direction, from_number, to_number, employee_id,
              call_started_at, duration_sec, raw_payload, recording_url, text_preview, language, transcription_cost,
              currency_code, status, error_code, error_message, attempts, download_attempts, stt_attempts,
              created_at, updated_at, run_id, audio_codec, audio_format)
            SELECT 'call-' || g, 'rec-' || g, (ARRAY['inbound','outbound','internal'])[1 + g % 3],
              '+7' || lpad(((g::bigint * 7919) % 10000000000)::text, 10, '0'),
              '+7495' || lpad((g % 10000000)::text, 7, '0'),
              'emp-' || lpad((g % {EMPLOYEES})::text, 4, '0'),
              now() - g * interval '31.5 seconds', g % 900,
              jsonb_build_object('ID', 'call-' || g, 'PHONE_NUMBER', '+7' || g, 'CALL_TYPE', 1 + g % 3,
                'CALL_DURATION', g % 900, 'PORTAL_USER_ID', g % {EMPLOYEES}, 'COMMENT', repeat('комментарий ', 30)),
              'https://example.bitrix24.ru/disk/downloadFile/' || g || '/?auth=x',
              CASE WHEN g % {TRANSCRIPT_EVERY} = 0 THEN repeat('Оператор: здравствуйте, чем могу помочь? ', 8)
                ELSE '' END,
              'ru', 0.006 * (g % 10), 'USD',
              CASE WHEN g % 100 < 80 THEN 'completed' WHEN g % 100 < 88 THEN 'error'
                WHEN g % 100 < 95 THEN 'skipped' WHEN g % 100 < 98 THEN 'missing_audio' ELSE 'pending' END,
              CASE WHEN g % 100 BETWEEN 80 AND 94 THEN ({codes})[1 + g % 7] END,
              CASE WHEN g % 100 BETWEEN 80 AND 87 THEN repeat('Bitrix24 answered 404 for the recording; ', 10)
                ELSE '' END,
              1, 1, 1, now() - g * interval '31.5 seconds', now() - g * interval '31.5 seconds',
              '00000000-0000-0000-0000-0000000000be', '', ''
            FROM generate_series(1, {CALLS}) AS g""",
        ),
        (
            "calls",
            f"""INSERT INTO calls_transcript (text_full, metadata, created_at, updated_at, call_record_id,
              call_started_at)
            SELECT array_to_string(ARRAY(SELECT (CASE WHEN k % 2 = 0 THEN 'Оператор: ' ELSE 'Клиент: ' END)
                || ({words})[1 + (r.id * k * 7 + k) % {len(WORDS)}] || ' '
                || ({words})[1 + (r.id * 13 + k * 3) % {len(WORDS)}] || ' '
                || ({words})[1 + (r.id + k * k) % {len(WORDS)}] || '.'
                FROM generate_series(1, 20) AS k), E'\\n'),
              '{{"engine": "openai", "model": "whisper-1", "language": "ru"}}', r.created_at, r.created_at, r.id,
              r.call_started_at
            FROM calls_callrecord AS r WHERE r.id % {TRANSCRIPT_EVERY} = 0""",
        ),
        (
            "couriers",
            f"""INSERT INTO returns_courier (courier_id, display_name, phone, is_active, created_at, updated_at)
            SELECT 'courier-' || lpad(g::text, 4, '0'), 'Курьер ' || g, '+7900' || lpad(g::text, 7, '0'),
              g % 10 <> 0, now(), now()
            FROM generate_series(1, {COURIERS}) AS g""",
        ),
        (
            "returns",
            # Ten courier ids beyond the couriers table: returns whose courier is unknown (RET-02).
            f"""INSERT INTO returns_return (return_id, status, source, courier_id, order_id_1c, manager_id, comment,
              created_at, updated_at, created_by)
            SELECT md5('return-' || g)::uuid,
              CASE WHEN g % 10 = 0 THEN 'pending' WHEN g % 10 < 8 THEN 'accepted' WHEN g % 10 = 8 THEN 'rejected'
                ELSE 'cancelled' END,
              (ARRAY['widget','call_center','warehouse'])[1 + g % 3],
              'courier-' || lpad((1 + g % {COURIERS + 10})::text, 4, '0'), 'ORD-' || g, 'mgr-' || g % 30,
              CASE WHEN g % 4 = 0 THEN 'Клиент передумал, коробка вскрыта' END,
              now() - g * interval '157 seconds', now() - g * interval '157 seconds', 'bench'
            FROM generate_series(1, {RETURNS}) AS g""",
        ),
        (
            "returns",
            f"""INSERT INTO returns_returnline (line_id, sku, qty, quality, reason_code, reason_note, imei, serial,
              return_id)
            SELECT k::text, 'SKU-' || lpad(((g * 13 + k * 7) % {SKUS})::text, 5, '0'), 1 + (g + k) % 3,
              (ARRAY['new','defect','unknown'])[1 + (g + k) % 3], 'customer_changed_mind',
              CASE WHEN k = 1 THEN 'Царапина на корпусе' END,
              CASE WHEN k = 1 THEN '35' || lpad((g::bigint * 1000 + k)::text, 13, '0') END,
              'SN' || g || '-' || k, md5('return-' || g)::uuid
            FROM generate_series(1, {RETURNS}) AS g, generate_series(1, {LINES_PER_RETURN}) AS k""",
        ),
        (
            "integrations",
            f"""INSERT INTO integrations_integrationlog (ts, direction, external_system, endpoint, status,
              status_code, correlation_id, resource_ref, request, response, error_code, retry_count)
            SELECT now() - g * interval '31.5 seconds', (ARRAY['inbound','outbound'])[1 + g % 2],
              (ARRAY['1c','b24','warehouse','openai','webhook'])[1 + g % 5],
              (ARRAY['/rest/voximplant.statistic.get','/api/v1/returns','/v1/audio/transcriptions',
                '/rest/crm.deal.list','/hooks/order'])[1 + g % 5],
              CASE WHEN g % 20 = 0 THEN 'error' WHEN g % 20 = 1 THEN 'retry' ELSE 'success' END,
              CASE WHEN g % 20 = 0 THEN 500 WHEN g % 20 = 1 THEN 429 ELSE 200 END,
              'corr-' || g, 'res-' || (g % 100000),
              jsonb_build_object('method', 'GET', 'params', jsonb_build_object('start', g, 'filter', repeat('x', 300))),
              jsonb_build_object('result', repeat('{{"ID": 1, "NAME": "значение"}}, ', 20), 'total', g),
              CASE WHEN g % 20 = 0 THEN (ARRAY['http_500','timeout','network_error'])[1 + g % 3]
                WHEN g % 20 = 1 THEN 'http_429' END,
              g % 4
            FROM generate_series(1, {LOG_ROWS}) AS g""",
        ),
        (
            "couriers",
            f"""INSERT INTO couriers_order (id, title, customer_name, customer_phone, delivery_address, status,
              order_id_1c, currency_code, total_amount, cod_amount, paid_amount, notes, created_by, created_at,
              updated_at, courier_id)
            SELECT 'WW-' || lpad(g::text, 7, '0'), 'Заказ ' || g, 'Клиент ' || (g % 20000),
              '+7916' || lpad((g % 10000000)::text, 7, '0'), 'Москва, ул. Ленина, д. ' || (g % 200),
              (ARRAY['NEW','ASSIGNED','IN_TRANSIT','DONE','DONE','DONE','REJECTED','DECLINED'])[1 + g % 8],
              '1C-' || g, 'RUB', 1000 + g % 50000, CASE WHEN g % 2 = 0 THEN 1000 + g % 50000 END,
              CASE WHEN g % 8 BETWEEN 3 AND 5 THEN 1000 + g % 50000 ELSE 0 END, NULL, 'bench',
              now() - g * interval '157 seconds', now() - g * interval '157 seconds',
              CASE WHEN g % 8 <> 0 THEN 'courier-' || lpad((1 + g % {COURIERS})::text, 4, '0') END
            FROM generate_series(1, {ORDERS}) AS g""",
        ),
        (
            "couriers",
            f"""INSERT INTO couriers_orderline (sku, name, qty, price, order_id)
            SELECT 'SKU-' || lpad(((g * 11 + k) % {SKUS})::text, 5, '0'), 'Товар ' || k, 1, 500 + g % 20000,
              'WW-' || lpad(g::text, 7, '0')
            FROM generate_series(1, {ORDERS}) AS g, generate_series(1, 2) AS k""",
        ),
        (
            "couriers",
            f"""INSERT INTO couriers_orderstatuslog (from_status, to_status, actor, ts, order_id)
            SELECT NULL, 'NEW', 'bench', now() - g * interval '157 seconds', 'WW-' || lpad(g::text, 7, '0')
            FROM generate_series(1, {ORDERS}) AS g""",
        ),
        (
            "couriers",
            f"""INSERT INTO couriers_assignment (id, status, comment, created_at, updated_at, courier_id, order_id)
            SELECT md5('assignment-' || g)::uuid, (ARRAY['PENDING','ACCEPTED','DECLINED','CLOSED'])[1 + g % 4],
              'Позвонить за час', now() - g * interval '157 seconds', now() - g * interval '157 seconds',
              'courier-' || lpad((1 + g % {COURIERS})::text, 4, '0'), 'WW-' || lpad(g::text, 7, '0')
            FROM generate_series(1, {ORDERS}) AS g WHERE g % 8 <> 0""",
        ),
        (
            "couriers",
            f"""INSERT INTO couriers_stockmovement (sku, qty_delta, kind, compartment, ref, actor, ts, courier_id)
            SELECT 'SKU-' || lpad((g % {SKUS})::text, 5, '0'), CASE WHEN g % 4 IN (1, 2) THEN -1 ELSE 1 END,
              (ARRAY['load','sale','unload','return_in'])[1 + g % 4],
              CASE WHEN g % 4 = 3 THEN 'returns' ELSE 'backpack' END, 'WW-' || lpad(g::text, 7, '0'), 'bench',
              now() - g * interval '157 seconds', 'courier-' || lpad((1 + g % {COURIERS})::text, 4, '0')
            FROM generate_series(1, {MOVEMENTS}) AS g""",
        ),
        (
            "couriers",
            f"""INSERT INTO couriers_courierstock (sku, qty, returned_qty, updated_at, courier_id)
            SELECT 'SKU-' || lpad(s::text, 5, '0'), (c + s) % 4, (c * s) % 2, now(),
              'courier-' || lpad(c::text, 4, '0')
            FROM generate_series(1, {COURIERS}) AS c, generate_series(1, 200) AS s""",
        ),
    ]


EXPECTED = {
    "calls_callrecord": CALLS,
    "calls_transcript": CALLS // TRANSCRIPT_EVERY,
    "returns_return": RETURNS,
    "returns_returnline": RETURNS * LINES_PER_RETURN,
    "integrations_integrationlog": LOG_ROWS,
    "couriers_order": ORDERS,
    "couriers_stockmovement": MOVEMENTS,
}
GROUP_TABLES = {
    "calls": ["calls_callexport"],
    "returns": ["returns_return", "returns_historicalreturn"],
    "integrations": ["integrations_integrationlog"],
    "couriers": ["returns_courier", "couriers_order", "couriers_stockmovement", "couriers_courierstock"],
}
GROUP_OF = {
    "calls_callrecord": "calls",
    "calls_transcript": "calls",
    "returns_return": "returns",
    "returns_returnline": "returns",
    "integrations_integrationlog": "integrations",
    "couriers_order": "couriers",
    "couriers_stockmovement": "couriers",
}


def load(connection) -> None:
    """Fill every table group whose row counts are not the expected ones (emptied first)."""
    with connection.cursor() as cursor:
        stale = set()
        for table, expected in EXPECTED.items():
            cursor.execute(f"SELECT count(*) FROM {table}")
            if cursor.fetchone()[0] != expected:
                stale.add(GROUP_OF[table])
        # Returns name their courier by id only, so the couriers group can be reloaded on its own.
        for group in sorted(stale):
            started = time.monotonic()
            cursor.execute(f"TRUNCATE {', '.join(GROUP_TABLES[group])} CASCADE")
            for statement_group, statement in _seed_sql():
                if statement_group == group:
                    cursor.execute(statement)
            print(f"loaded {group} in {time.monotonic() - started:.0f} s", flush=True)
    with connection.cursor() as cursor:
        started = time.monotonic()
        cursor.execute("VACUUM ANALYZE")
        print(f"VACUUM ANALYZE in {time.monotonic() - started:.0f} s", flush=True)


@dataclass
class Page:
    name: str
    path: str


def pages() -> list[Page]:
    """Every page timed: lists unfiltered, with each filter, a search, a deep page; change pages."""
    from django.utils import timezone

    from calls.models import CallRecord
    from couriers.models import Assignment, Order
    from integrations.models import IntegrationLog
    from returns.models import Return

    now = timezone.localtime()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    week = {
        "__gte": str(today - timedelta(days=6)),
        "__lt": str(today + timedelta(days=1)),
    }

    def last_week(field: str) -> str:
        return urlencode({field + suffix: value for suffix, value in week.items()})

    call = CallRecord.objects.order_by("id").values_list("id", flat=True)[CALLS // 2]
    return_id = Return.objects.order_by("created_at").values_list("return_id", flat=True)[RETURNS // 2]
    log_id = IntegrationLog.objects.order_by("id").values_list("id", flat=True)[LOG_ROWS // 2]
    order_id = Order.objects.order_by("id").values_list("id", flat=True)[ORDERS // 2]
    assignment_id = Assignment.objects.order_by("created_at").values_list("id", flat=True)[ORDERS // 4]
    calls = "/admin/calls/callrecord/"
    returns = "/admin/returns/return/"
    logs = "/admin/integrations/integrationlog/"
    orders = "/admin/couriers/order/"
    return [
        Page("call records, no filter", calls),
        Page("… status = error", calls + "?status__exact=error"),
        Page("… direction = inbound", calls + "?direction__exact=inbound"),
        Page("… error code", calls + "?error_code=http_404"),
        Page("… employee", calls + "?employee_id__exact=emp-0042"),
        Page("… last 7 days", calls + "?" + last_week("call_started_at")),
        Page("… with a transcript", calls + "?transcript=yes"),
        Page("… search phone fragment", calls + "?q=4567"),
        Page("… search employee", calls + "?q=emp-0042"),
        Page("… search call id", calls + "?q=call-123456"),
        Page("… page 500", calls + "?p=500"),
        Page("… show counts (facets)", calls + "?_facets=True"),
        Page("call record page", f"{calls}{call}/change/"),
        Page("transcript search", calls + "transcripts/search/?q=" + "гарантия ремонт"),
        Page("transcript search, common word", calls + "transcripts/search/?q=" + "заказ"),
        Page("returns, no filter", returns),
        Page("… status = pending", returns + "?status__exact=pending"),
        Page("… overdue", returns + "?overdue=yes"),
        Page("… unknown courier", returns + "?courier_known=no"),
        Page("… last 7 days", returns + "?" + last_week("created_at")),
        Page("… search SKU", returns + "?q=SKU-01234"),
        Page("… search IMEI", returns + "?q=350000123456001"),
        Page("… page 500", returns + "?p=500"),
        Page("return page", f"{returns}{return_id}/change/"),
        Page("integration log, no filter", logs),
        Page("… system = b24", logs + "?external_system__exact=b24"),
        Page("… status = error", logs + "?status__exact=error"),
        Page("… last 7 days", logs + "?" + last_week("ts")),
        Page("… search correlation id", logs + "?q=corr-500000"),
        Page("… page 500", logs + "?p=500"),
        Page("integration log entry", f"{logs}{log_id}/change/"),
        Page("courier orders, no filter", orders),
        Page("… status = DONE", orders + "?status__exact=DONE"),
        Page("… courier", orders + "?courier=courier-0007"),
        Page("… last 7 days", orders + "?" + last_week("created_at")),
        Page("… search customer", orders + "?q=" + "Клиент 1234"),
        Page("… page 500", orders + "?p=500"),
        Page("order page", f"{orders}{order_id}/change/"),
        Page("assignments, no filter", "/admin/couriers/assignment/"),
        Page("… status = PENDING", "/admin/couriers/assignment/?status__exact=PENDING"),
        Page("… search order", "/admin/couriers/assignment/?q=WW-0012345"),
        Page("assignment page", f"/admin/couriers/assignment/{assignment_id}/change/"),
        Page("stock movements, no filter", "/admin/couriers/stockmovement/"),
        Page("… kind = sale", "/admin/couriers/stockmovement/?kind__exact=sale"),
        Page("… search SKU", "/admin/couriers/stockmovement/?q=SKU-01234"),
        Page("courier stock, no filter", "/admin/couriers/courierstock/"),
        Page("courier page", "/admin/returns/courier/courier-0007/change/"),
    ]


def database_backends(url: str) -> set[int]:
    """PIDs of the PostgreSQL backends serving the benchmark's database: their CPU is the benchmark's own."""
    import psycopg

    with psycopg.connect(url.replace("postgres://", "postgresql://", 1), autocommit=True) as connection:
        rows = connection.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()").fetchall()
        return {row[0] for row in rows}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def server(*, workers: int, env: dict[str, str]) -> Iterator[tuple[subprocess.Popen, str]]:
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "mastermobile.wsgi:application", "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", str(workers), "--timeout", "120", "--log-level", "warning"]
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        ready_by = time.monotonic() + 60
        while True:  # readiness probe of a child process, bounded
            if process.poll() is not None:
                raise SystemExit(f"gunicorn exited with code {process.returncode}")
            if time.monotonic() > ready_by:
                raise SystemExit("gunicorn did not become healthy within 60 s")
            try:
                if requests.get(f"{url}/health", timeout=10).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.2)
        yield process, url
    finally:
        process.terminate()
        process.wait(timeout=30)


def log_in(url: str) -> requests.Session:
    session = requests.Session()
    session.headers["Accept-Language"] = "ru"
    form = session.get(f"{url}/admin/login/", timeout=30)
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    if found is None:
        raise SystemExit(f"no CSRF token on {url}/admin/login/ (status {form.status_code})")
    token = found.group(1)
    answer = session.post(
        f"{url}/admin/login/?next=/admin/",
        data={"csrfmiddlewaretoken": token, "username": USERNAME, "password": PASSWORD, "next": "/admin/"},
        headers={"Referer": f"{url}/admin/login/"},
        timeout=30,
        allow_redirects=False,
    )
    if answer.status_code != 302:
        raise SystemExit(f"login failed: {answer.status_code}")
    return session


def time_pages(
    session: requests.Session, url: str, repeat: int, only: str = ""
) -> list[tuple[Page, float, float, str]]:
    rows = []
    for page in (page for page in pages() if only in page.name):
        times, outcome = [], "ok"
        for attempt in range(repeat + 1):
            started = time.perf_counter()
            answer = session.get(url + page.path, timeout=120, allow_redirects=False)
            elapsed = (time.perf_counter() - started) * 1000
            if answer.status_code != 200:
                outcome = f"HTTP {answer.status_code} {answer.headers.get('Location', '')}".strip()
            if attempt:  # the first request warms the worker and the database's caches
                times.append(elapsed)
        rows.append((page, statistics.median(times), max(times), outcome))
        print(f"{page.name:<38} {statistics.median(times):>8.0f} ms  (max {max(times):.0f})  {outcome}", flush=True)
    return rows


def slowest_sql(top: int = 10) -> None:
    """Each page once more in this process, every statement timed: the slowest per page and overall."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    client = Client(HTTP_ACCEPT_LANGUAGE="ru")
    client.force_login(get_user_model().objects.get(username=USERNAME))
    overall: list[tuple[float, str, str]] = []
    print("\nslowest SQL statement of each page (in-process, one request):")
    for page in pages():
        statements: list[tuple[float, str]] = []

        def timed(execute, sql, params, many, context, statements=statements):
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                statements.append(((time.perf_counter() - started) * 1000, sql))

        with connection.execute_wrapper(timed):
            client.get(page.path)
        if not statements:
            continue
        worst = max(statements)
        overall += [(ms, page.name, sql) for ms, sql in statements]
        total = sum(ms for ms, _sql in statements)
        print(f"  {page.name:<38} {len(statements):>3} statements {total:>7.0f} ms; slowest {worst[0]:.0f} ms")
    print(f"\nslowest {top} statements overall:")
    for ms, name, sql in sorted(overall, reverse=True)[:top]:
        print(f"  {ms:>7.0f} ms  {name}: {' '.join(sql.split())[:400]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("ADMIN_SCALE_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--repeat", type=int, default=5, help="timed requests per page after one warm-up")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--no-sql", action="store_true", help="skip the in-process slowest-SQL pass")
    parser.add_argument("--pages", default="", help="only the pages whose name contains this text")
    args = parser.parse_args()
    name = urlsplit(args.database_url).path.lstrip("/")
    if urlsplit(args.database_url).scheme not in ("postgres", "postgresql") or not re.search("scale|bench", name):
        parser.error("--database-url must be a throw-away PostgreSQL database named …scale… or …bench…")

    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "APP_ENV": "local",
        "DJANGO_DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "DJANGO_SETTINGS_MODULE": "mastermobile.settings",
    }
    os.environ.update(env)
    import psycopg

    try:
        database_backends(args.database_url)
    except psycopg.OperationalError as error:
        print(f"skipped: no database at {args.database_url} ({type(error).__name__}); createdb it first")
        return
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection

    with OtherLoad(set, lambda: database_backends(args.database_url)) as other:
        load(connection)
    print(f"other load while loading: {other.cores:.2f} cores" if other.cores is not None else "", flush=True)
    user, _created = get_user_model().objects.get_or_create(username=USERNAME)
    user.is_staff = user.is_superuser = True
    user.set_password(PASSWORD)
    user.save()
    connection.close()

    with server(workers=args.workers, env=env) as (process, url):
        session = log_in(url)
        print(f"\nmedian of {args.repeat} (after one warm-up), gunicorn {args.workers} sync workers, DEBUG off")
        with OtherLoad(lambda: {process.pid}, lambda: database_backends(args.database_url)) as other:
            rows = time_pages(session, url, args.repeat, args.pages)
    if other.cores is not None:
        print(f"other load while timing: {other.cores:.2f} cores")
    slow = [row for row in rows if row[1] >= 500 or row[3] != "ok"]
    print(f"\n{len(rows) - len(slow)} of {len(rows)} pages under 500 ms and answering 200")
    print("\n| Page | median, ms |\n|---|---:|")
    for page, median, _worst, outcome in rows:
        print(f"| {page.name} | {median:.0f}{'' if outcome == 'ok' else ' (' + outcome + ')'} |")
    if not args.no_sql:
        slowest_sql()


if __name__ == "__main__":
    main()
