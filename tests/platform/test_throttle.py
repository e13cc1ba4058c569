"""The per-subject rate limit is one count for every process that serves the API (PLAT-44)."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from django.db import connection

from integrations.models import TokenBucket
from mastermobile.api.throttling import counter_name
from tests.processes import GUNICORN, free_port, http_get, manage, process_env, running

LIMIT = 20  # per hour: no window starts again while the test runs
REQUESTS = 3 * LIMIT
JWT_SECRET = "throttle-test-secret-" + "0123456789abcdef" * 2
WINDOW_START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_a_bucket_authorizes_its_capacity_once_per_window():
    first_window = [TokenBucket.authorize("api:test", capacity=3, refilled_at=WINDOW_START) for _ in range(5)]
    next_window = TokenBucket.authorize("api:test", capacity=3, refilled_at=WINDOW_START.replace(hour=13))

    assert first_window == [True, True, True, False, False]
    assert next_window is True


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(5))
def test_concurrent_first_requests_share_one_fill_of_the_bucket(attempt):
    threads = 30
    start = threading.Barrier(threads)

    def authorize(_: int) -> bool:
        start.wait(timeout=30)
        try:
            return TokenBucket.authorize(f"api:race-{attempt}", capacity=20, refilled_at=WINDOW_START)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=threads) as pool:
        answers = list(pool.map(authorize, range(threads)))

    assert answers.count(True) == 20


def test_a_long_or_unprintable_key_is_stored_under_its_hash():
    assert counter_name("throttle_subject_jwt:onec-prod") == "throttle_subject_jwt:onec-prod"
    assert counter_name("x" * 300).startswith("throttle_sha256_")
    assert counter_name("throttle_subject_jwt:\x00\ud800").startswith("throttle_sha256_")


def get_statuses(urls: list[str], token: str) -> list[tuple[int, str | None]]:
    """GET every URL from four threads at once; each answer's status and Retry-After."""

    def get(url: str) -> tuple[int, str | None]:
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.headers.get("Retry-After")
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get("Retry-After")

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(get, urls))


def two_servers_hammered(tmp_path, passthrough: tuple[str, ...] = (), **store: str) -> tuple[Counter, list[Counter]]:
    """Two gunicorn servers on one database; REQUESTS list calls of one caller spread over both."""
    env = process_env(
        *passthrough,
        DATABASE_URL=f"sqlite:///{tmp_path / 'throttle.sqlite3'}",
        JWT_SECRET=JWT_SECRET,
        API_THROTTLE_RATE=f"{LIMIT}/hour",
        LOG_LEVEL="WARNING",
        **store,
    )
    assert manage("migrate", "--noinput", env=env).returncode == 0
    issued = manage("issue_token", "--role", "1c", "--subject", f"hammer-{uuid.uuid4().hex[:8]}", env=env)
    token = issued.stdout.strip()
    ports = [free_port(), free_port()]
    servers = [running([*GUNICORN, "--bind", f"127.0.0.1:{port}", "--workers", "1"], env=env) for port in ports]
    with servers[0], servers[1]:
        for port in ports:
            assert json.loads(http_get(f"http://127.0.0.1:{port}/health"))["status"] == "ok"
        urls = [f"http://127.0.0.1:{ports[index % 2]}/api/v1/returns?page_size=1" for index in range(REQUESTS)]
        answers = get_statuses(urls, token)
    per_server = [
        Counter(status for (status, _), url in zip(answers, urls, strict=True) if f":{port}/" in url) for port in ports
    ]
    assert all(retry_after is not None and int(retry_after) >= 1 for status, retry_after in answers if status == 429)
    return Counter(status for status, _ in answers), per_server


@pytest.mark.slow
def test_two_processes_on_one_database_together_allow_the_rate_and_no_more(tmp_path):
    total, per_server = two_servers_hammered(tmp_path)

    assert total == {200: LIMIT, 429: REQUESTS - LIMIT}
    assert all(server[200] > 0 for server in per_server)


@pytest.mark.slow
@pytest.mark.redis
def test_two_processes_with_the_redis_cache_together_allow_the_rate_and_no_more(tmp_path):
    total, per_server = two_servers_hammered(tmp_path, passthrough=("REDIS_HOST", "REDIS_PORT"), Q_BROKER="redis")

    assert total == {200: LIMIT, 429: REQUESTS - LIMIT}
    assert all(server[200] > 0 for server in per_server)
