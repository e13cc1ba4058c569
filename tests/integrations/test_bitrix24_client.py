"""The Bitrix24 client against the fake portal over real HTTP (B24-01…B24-13)."""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime, timedelta

import pytest

from integrations.bitrix24 import (
    Bitrix24AuthError,
    Bitrix24HTTPError,
    Bitrix24MethodNotFound,
    Bitrix24PayloadError,
    Bitrix24RateLimited,
    Bitrix24TransportError,
    client_from_config,
    list_calls,
)
from integrations.bitrix24.ratelimit import RateLimiter
from integrations.bitrix24.responses import page_from
from integrations.models import IntegrationLog
from tests.fakes.bitrix24 import FakeBitrix24

pytestmark = pytest.mark.django_db

FROM = datetime(2000, 1, 1, tzinfo=UTC)
TO = datetime(2100, 1, 1, tzinfo=UTC)


def make_client(config, **overrides):
    sleeps: list[float] = []
    overrides.setdefault("sleep", sleeps.append)
    client = client_from_config(config, **overrides)
    client.sleeps = sleeps  # type: ignore[attr-defined]  # the tests read the recorded waits off the client
    return client


@pytest.mark.parametrize("base", ["https://portal", "https://portal/", "https://portal/rest", "https://portal/rest/"])
def test_every_base_url_form_builds_the_same_method_url(b24_config, base):
    client = client_from_config(dataclasses.replace(b24_config, b24_base_url=base, b24_webhook_user_id="1"))

    assert client.method_url("voximplant.statistic.get") == (
        f"https://portal/rest/1/{b24_config.b24_webhook_token}/voximplant.statistic.get.json"
    )


def test_listing_sends_operator_prefixed_filter_and_ascending_sort(b24_config, fake_b24):
    client = make_client(b24_config)
    date_from = datetime(2026, 9, 1, tzinfo=UTC)
    date_to = datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC)

    client.list_calls(date_from, date_to)

    query = fake_b24.requests[0].query
    assert query["FILTER[>=CALL_START_DATE]"] == "2026-09-01T00:00:00+00:00"
    assert query["FILTER[<=CALL_START_DATE]"] == "2026-10-31T23:59:59+00:00"
    assert query["SORT"] == "CALL_START_DATE"
    assert query["ORDER"] == "ASC"
    assert not any(key.startswith("FILTER[DATE_") for key in query)


def test_page_by_page_listing_returns_every_call_in_order(b24_config, fake_b24):
    client = make_client(dataclasses.replace(b24_config, b24_use_batch=False))

    calls = client.list_calls(FROM, TO)

    assert [c["CALL_ID"] for c in calls] == [c["CALL_ID"] for c in fake_b24.items]
    assert fake_b24.count("rest") == 3  # 120 calls: pages at 0, 50, 100
    assert [r.query.get("start") for r in fake_b24.requests] == [None, "50", "100"]


def test_pages_carry_total_and_next_offsets(b24_config):
    client = make_client(dataclasses.replace(b24_config, b24_use_batch=False))

    pages = list(client.iter_call_pages(FROM, TO))

    assert [(p.start, p.next, p.total, len(p.items)) for p in pages] == [
        (0, 50, 120, 50),
        (50, 100, 120, 50),
        (100, None, 120, 20),
    ]


def test_listing_resumes_from_a_checkpoint_offset(b24_config, fake_b24):
    client = make_client(dataclasses.replace(b24_config, b24_use_batch=False))

    pages = list(client.iter_call_pages(FROM, TO, start=100))

    assert [p.start for p in pages] == [100]
    assert pages[0].items[0]["CALL_ID"] == fake_b24.items[100]["CALL_ID"]


def test_batch_listing_is_identical_to_page_by_page_with_fewer_requests(b24_config, fake_b24):
    paged = make_client(dataclasses.replace(b24_config, b24_use_batch=False)).list_calls(FROM, TO)
    paged_requests = len(fake_b24.requests)

    batched = make_client(dataclasses.replace(b24_config, b24_use_batch=True)).list_calls(FROM, TO)

    assert batched == paged
    assert len(fake_b24.requests) - paged_requests == 2  # first page, then one batch of the two others
    assert fake_b24.requests[-1].kind == "batch"


def test_batch_fetches_failed_commands_page_by_page(b24_config, fake_b24, monkeypatch):
    original = fake_b24.run_method
    failed_once: set[str] = set()

    def flaky(method, query):
        if query.get("start") == "50" and "50" not in failed_once:
            failed_once.add("50")
            return 503, {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}
        return original(method, query)

    monkeypatch.setattr(fake_b24, "run_method", flaky)

    calls = make_client(b24_config).list_calls(FROM, TO)

    assert [c["CALL_ID"] for c in calls] == [c["CALL_ID"] for c in fake_b24.items]


def test_date_bounds_are_inclusive(b24_config, fake_b24):
    first = datetime.fromisoformat(fake_b24.items[10]["CALL_START_DATE"])
    last = datetime.fromisoformat(fake_b24.items[20]["CALL_START_DATE"])

    calls = list_calls(first, last)

    assert [c["CALL_ID"] for c in calls] == [c["CALL_ID"] for c in fake_b24.items[10:21]]


def test_items_that_are_not_objects_are_dropped():
    page = page_from(0, [{"ID": "1"}, "junk", None, 5, {"ID": "2"}], None, "2")

    assert page.items == [{"ID": "1"}, {"ID": "2"}]
    assert page.total == 2


@pytest.mark.parametrize("kind", ["429", "500", "502", "query_limit", "operation_time_limit", "reset"])
def test_each_retryable_error_is_retried_until_success(b24_config, fake_b24, kind):
    fake_b24.fail_next(kind, times=2)
    client = make_client(dataclasses.replace(b24_config, b24_use_batch=False))

    calls = client.list_calls(FROM, TO)

    assert len(calls) == 120
    assert len(fake_b24.requests) == 3 + 2


def test_a_timeout_is_retried(b24_config, fake_b24):
    fake_b24.fail_next("slow", times=1)
    client = make_client(dataclasses.replace(b24_config, request_timeout_s=0.3, b24_use_batch=False))

    calls = client.list_calls(FROM, TO)

    assert len(calls) == 120


def test_retries_give_up_after_max_attempts_with_the_last_http_error(b24_config, fake_b24):
    fake_b24.fail_next("500", times=10)
    client = make_client(dataclasses.replace(b24_config, b24_max_attempts=4))

    with pytest.raises(Bitrix24HTTPError) as caught:
        client.list_calls(FROM, TO)

    assert caught.value.status_code == 500
    assert caught.value.retryable
    assert fake_b24.count("rest") == 4


def test_transport_errors_give_up_as_network_error(b24_config, fake_b24):
    fake_b24.fail_next("reset", times=10)
    client = make_client(dataclasses.replace(b24_config, b24_max_attempts=3))

    with pytest.raises(Bitrix24TransportError) as caught:
        client.list_calls(FROM, TO)

    assert caught.value.code == "network_error"


@pytest.mark.parametrize(
    ("kind", "error_class", "code"),
    [
        ("401", Bitrix24AuthError, "b24_auth_failed"),
        ("expired_token", Bitrix24AuthError, "b24_auth_failed"),
        ("insufficient_scope", Bitrix24AuthError, "b24_auth_failed"),
        ("error_200", Bitrix24AuthError, "b24_auth_failed"),
        ("method_not_found", Bitrix24MethodNotFound, "http_404"),
        ("400", Bitrix24HTTPError, "http_400"),
        ("not_json", Bitrix24PayloadError, "b24_unexpected_payload"),
    ],
)
def test_non_retryable_errors_fail_at_once_with_a_typed_error(b24_config, fake_b24, kind, error_class, code):
    fake_b24.fail_next(kind, times=5)
    client = make_client(b24_config)

    with pytest.raises(error_class) as caught:
        client.list_calls(FROM, TO)

    assert caught.value.code == code
    assert not caught.value.retryable
    assert len(fake_b24.requests) == 1


def test_a_wrong_token_is_an_auth_error(b24_config, fake_b24):
    client = make_client(dataclasses.replace(b24_config, b24_webhook_token="wrong-token-value"))

    with pytest.raises(Bitrix24AuthError) as caught:
        client.list_calls(FROM, TO)

    assert caught.value.status_code == 401
    assert caught.value.error == "NO_AUTH_FOUND"


def test_backoff_doubles_from_the_configured_step(b24_config, fake_b24):
    fake_b24.fail_next("500", times=4)
    client = make_client(dataclasses.replace(b24_config, b24_backoff_seconds=5))

    client.list_calls(FROM, TO)

    assert client.sleeps == [5, 10, 20, 40]


def test_a_longer_retry_after_is_honoured(b24_config, fake_b24):
    fake_b24.fail_next("429", times=1, retry_after="30")
    client = make_client(dataclasses.replace(b24_config, b24_backoff_seconds=5))

    client.list_calls(FROM, TO)

    assert client.sleeps == [30]


def test_waits_are_capped_at_120_seconds(b24_config, fake_b24):
    fake_b24.fail_next("500", times=2)
    client = make_client(dataclasses.replace(b24_config, b24_backoff_seconds=100))

    client.list_calls(FROM, TO)

    assert client.sleeps == [100, 120]


def test_operation_time_limit_waits_ten_minutes(b24_config, fake_b24):
    fake_b24.fail_next("operation_time_limit", times=1)
    client = make_client(dataclasses.replace(b24_config, b24_backoff_seconds=5))

    client.list_calls(FROM, TO)

    assert client.sleeps == [600]


def test_zero_backoff_retries_without_waiting(b24_config, fake_b24):
    fake_b24.fail_next("429", times=3, retry_after="30")
    client = make_client(b24_config)

    client.list_calls(FROM, TO)

    assert client.sleeps == []


def test_the_token_is_masked_in_errors_logs_and_the_integration_log(b24_config, fake_b24, caplog):
    fake_b24.fail_next("500", times=1)
    fake_b24.fail_next("400", times=1)
    client = make_client(dataclasses.replace(b24_config, b24_max_attempts=3), correlation_id="run-1")
    caplog.set_level(logging.INFO, logger="integrations.bitrix24")

    with pytest.raises(Bitrix24HTTPError) as caught:
        client.list_calls(FROM, TO)

    token = fake_b24.token
    assert token not in str(caught.value) and "/rest/1/***/" in str(caught.value)
    assert token not in (caught.value.url or "")
    assert all(token not in record.getMessage() and token not in str(vars(record)) for record in caplog.records)
    rows = list(IntegrationLog.objects.filter(correlation_id="run-1").order_by("id"))
    assert [(r.status, r.status_code, r.retry_count) for r in rows] == [("retry", 500, 0), ("error", 400, 1)]
    assert all(token not in r.endpoint and "/rest/1/***/voximplant.statistic.get.json" in r.endpoint for r in rows)
    assert {r.external_system for r in rows} == {"b24"}


def test_listing_logs_every_stage(b24_config, fake_b24, caplog):
    fake_b24.fail_next("500", times=1)
    caplog.set_level(logging.INFO, logger="integrations.bitrix24")

    make_client(dataclasses.replace(b24_config, b24_use_batch=False)).list_calls(FROM, TO)

    stages = [r.stage for r in caplog.records if getattr(r, "event", None) == "call_export.fetch_calls"]
    assert stages[0] == "start" and stages[-1] == "completed"
    assert {"request", "retry", "success"} <= set(stages)
    completed = caplog.records[-1]
    assert completed.total_calls == 120


def test_every_request_carries_the_timeout(b24_config, fake_b24, monkeypatch):
    client = make_client(dataclasses.replace(b24_config, request_timeout_s=7, b24_use_batch=True))
    seen = []
    original = client.session.request

    def spy(*args, **kwargs):
        seen.append(kwargs["timeout"])
        return original(*args, **kwargs)

    monkeypatch.setattr(client.session, "request", spy)

    client.list_calls(FROM, TO)

    assert seen == [(7, 7), (7, 7)]


def test_rate_limited_answers_switch_to_low_rate_mode(b24_config, fake_b24):
    fake_b24.fail_next("query_limit", times=11)
    client = make_client(dataclasses.replace(b24_config, b24_max_attempts=20, b24_use_batch=False))

    client.list_calls(FROM, TO)

    assert client.limiter.low_rate
    assert client.limiter.effective_rate == 0.5


def test_forced_low_rate_mode_caps_the_rate(b24_config):
    client = client_from_config(dataclasses.replace(b24_config, export_low_rate_mode=True, b24_rate_limit_rps=2))

    limiter = client.limiter
    assert isinstance(limiter, RateLimiter)
    assert limiter.effective_rate == 0.5


def test_disk_file_get_gives_the_download_url(b24_config, fake_b24):
    item = fake_b24.items[8]

    url = make_client(b24_config).disk_download_url(item["RECORD_FILE_ID"])

    assert url == (
        f"{fake_b24.base_url}/rest/download.json?auth={fake_b24.access_key}&token=disk%7C{item['RECORD_FILE_ID']}"
    )


def test_the_fake_portal_answers_query_limit_exceeded_past_its_burst(b24_config):
    # Draining one request per 100 s: however slow the first three are, the fourth finds the bucket full.
    with FakeBitrix24(calls=10, rate=0.01, burst=3) as strict:
        client = make_client(
            dataclasses.replace(b24_config, b24_base_url=strict.base_url, b24_webhook_token=strict.token),
            max_attempts=1,
        )
        for _ in range(3):
            client.list_calls(FROM, TO)

        with pytest.raises(Bitrix24RateLimited) as caught:
            client.list_calls(FROM, TO)

    assert caught.value.status_code == 503
    assert caught.value.error == "QUERY_LIMIT_EXCEEDED"


def test_the_fake_portal_serves_calls_inside_its_window_only(b24_config, fake_b24):
    newest = datetime.fromisoformat(fake_b24.items[-1]["CALL_START_DATE"])

    calls = list_calls(newest + timedelta(seconds=1), TO)

    assert calls == []
