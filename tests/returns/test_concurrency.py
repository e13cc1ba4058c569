"""RET-25 / RET-40 case 7: one key posted by many clients at once executes exactly once."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.db import connection

from mastermobile.models import IdempotencyRecord
from returns.models import Courier, Return
from tests.returns.conftest import URL, VALID_BODY, new_key

THREADS = 50


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_posts_with_one_key_create_exactly_one_return(live_server, make_token):
    Courier.objects.create(courier_id="courier-001", display_name="Ivan Petrov")
    headers = {"Authorization": f"Bearer {make_token('courier', 'courier-001')}", "Idempotency-Key": new_key()}
    start = threading.Barrier(THREADS)

    def post(_: int) -> requests.Response:
        with requests.Session() as session:
            # Connect first (keep-alive) so the test server's small listen
            # backlog never sees 50 simultaneous connects.
            session.get(live_server.url + "/health", timeout=60).raise_for_status()
            start.wait(timeout=30)  # release all requests together
            return session.post(live_server.url + URL, json=VALID_BODY, headers=headers, timeout=60)

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        responses = list(pool.map(post, range(THREADS)))

    statuses = [response.status_code for response in responses]
    first = [r for r in responses if r.status_code == 201 and "Idempotent-Replayed" not in r.headers]
    replays = [r for r in responses if r.headers.get("Idempotent-Replayed") == "true"]
    conflicts = [r for r in responses if r.status_code == 409]
    assert all(status < 500 for status in statuses), statuses
    assert len(first) == 1, statuses
    assert len(first) + len(replays) + len(conflicts) == THREADS, statuses
    assert all(r.json()["type"].endswith("/idempotency-in-progress") for r in conflicts)
    assert all(r.headers["Retry-After"] == "1" for r in conflicts)
    assert all(r.content == first[0].content for r in replays)
    assert Return.objects.count() == 1
    assert IdempotencyRecord.objects.get().state == "completed"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_posts_with_distinct_keys_all_succeed(live_server, make_token):
    Courier.objects.create(courier_id="courier-001", display_name="Ivan Petrov")
    token = make_token("courier", "courier-001")
    start = threading.Barrier(20)

    def post(_: int) -> int:
        with requests.Session() as session:
            session.get(live_server.url + "/health", timeout=60).raise_for_status()
            start.wait(timeout=30)
            headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": new_key()}
            return session.post(live_server.url + URL, json=VALID_BODY, headers=headers, timeout=60).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(post, range(20)))

    assert statuses == [201] * 20
    assert Return.objects.count() == 20


def waiting_on_a_lock() -> int:
    """Backends of this database blocked on a lock right now (a second request waiting for the key's claim)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_request_arriving_while_the_first_is_slow_waits_and_gets_the_replay(live_server, make_token, monkeypatch):
    from returns import services

    Courier.objects.create(courier_id="courier-001", display_name="Ivan Petrov")
    headers = {"Authorization": f"Bearer {make_token('courier', 'courier-001')}", "Idempotency-Key": new_key()}
    entered, release = threading.Event(), threading.Event()
    real_create = services.return_create

    def slow_create(**kwargs):
        if not entered.is_set():
            entered.set()
            release.wait(timeout=30)  # holds the first request inside its transaction, key claimed
        return real_create(**kwargs)

    monkeypatch.setattr("returns.services.return_create", slow_create)

    def post() -> requests.Response:
        return requests.post(live_server.url + URL, json=VALID_BODY, headers=headers, timeout=60)

    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(post)
        assert entered.wait(timeout=30)
        second = pool.submit(post)
        deadline = time.monotonic() + 30
        while waiting_on_a_lock() == 0:  # the second request is parked on the uncommitted claim
            assert time.monotonic() < deadline, "the second request never waited for the first"
            time.sleep(0.02)
        assert not second.done()
        release.set()
        first_response, second_response = first.result(timeout=60), second.result(timeout=60)

    assert first_response.status_code == 201 and "Idempotent-Replayed" not in first_response.headers
    assert second_response.status_code == 201
    assert second_response.headers["Idempotent-Replayed"] == "true"
    assert second_response.content == first_response.content
    assert Return.objects.count() == 1
