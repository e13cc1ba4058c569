"""The shared outbound policy (integrations.outbound) over real HTTP.

The policy is driven by the smallest client that follows its contract — one
``GET /v1/models`` against the fake OpenAI and an error with the
:class:`~integrations.outbound.OutboundError` attributes — and then through
the Bitrix24 client against the fake portal, whose behaviour it must keep.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests
from prometheus_client import REGISTRY

from integrations.bitrix24 import Bitrix24HTTPError, Bitrix24Unavailable, client_from_config
from integrations.bitrix24.ratelimit import RateLimiter
from integrations.circuitbreaker import CircuitBreaker
from integrations.models import CircuitState, IntegrationLog, RateLimitState
from integrations.outbound import Backoff, OutboundPolicy
from tests.fakes.openai import FakeOpenAI

pytestmark = pytest.mark.django_db

FROM = datetime(2000, 1, 1, tzinfo=UTC)
TO = datetime(2100, 1, 1, tzinfo=UTC)


class ModelsError(Exception):
    """An error that follows the policy's protocol, and nothing more."""

    def __init__(self, *, status_code: int | None, retry_after: float | None = None):
        super().__init__(f"models answered {status_code}")
        self.status_code = status_code
        self.retry_after = retry_after
        self.retryable = status_code is None or status_code == 429 or status_code >= 500
        self.rate_limited = status_code == 429
        self.error_code = f"http_{status_code}" if status_code else "network_error"


class Unavailable(ModelsError):
    def __init__(self, endpoint: str):
        super().__init__(status_code=None)
        self.endpoint = endpoint
        self.error_code = "integration.unavailable"


class ModelsClient:
    """Builds one request and reads its answer; everything else is the policy's."""

    def __init__(self, fake: FakeOpenAI, policy: OutboundPolicy):
        self.fake = fake
        self.policy = policy

    @property
    def endpoint(self) -> str:
        return f"{self.fake.base_url}/models"

    def models(self, *, resource_ref: str | None = None) -> list[str]:
        return self.policy.call(
            self._send, endpoint=self.endpoint, event="test.models", retry_stage="models", resource_ref=resource_ref
        )

    def _send(self) -> list[str]:
        try:
            response = requests.get(
                self.endpoint, headers={"Authorization": f"Bearer {self.fake.api_key}"}, timeout=(2, 2)
            )
        except requests.RequestException:
            error = ModelsError(status_code=None)
        else:
            if response.status_code == 200:
                return [model["id"] for model in response.json()["data"]]
            retry_after = response.headers.get("Retry-After")
            error = ModelsError(
                status_code=response.status_code, retry_after=float(retry_after) if retry_after else None
            )
        raise error


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def make_client(fake):
    """``make_client(max_attempts=…, backoff=…, …)``: a models client whose sleeps are recorded in ``.sleeps``."""

    def build(**options) -> ModelsClient:
        sleeps: list[float] = []
        options = {
            "system": "openai",
            "breaker": CircuitBreaker(key=f"openai:127.0.0.1:{fake.port}", system="openai"),
            "errors": ModelsError,
            "unavailable": Unavailable,
            "max_attempts": 3,
            "backoff": Backoff(base_seconds=5),
            "sleep": sleeps.append,
            **options,
        }
        client = ModelsClient(fake, OutboundPolicy(**options))
        client.sleeps = sleeps  # type: ignore[attr-defined]  # the tests read the recorded waits off the client
        return client

    return build


def failures(system: str, reason: str, retry_stage: str) -> float:
    labels = {"system": system, "reason": reason, "retry_stage": retry_stage}
    return REGISTRY.get_sample_value("integration_failures_total", labels) or 0.0


def circuit_state(client: ModelsClient) -> str | None:
    return CircuitState.objects.filter(value=client.policy.breaker.key).values_list("state", flat=True).first()


# Backoff ------------------------------------------------------------------


def test_backoff_doubles_from_its_base():
    backoff = Backoff(base_seconds=5)

    assert [backoff(attempt, ModelsError(status_code=500)) for attempt in (1, 2, 3, 4)] == [5, 10, 20, 40]


def test_a_longer_retry_after_wins_and_no_wait_passes_the_cap():
    backoff = Backoff(base_seconds=5, cap_seconds=120)

    assert backoff(1, ModelsError(status_code=429, retry_after=30)) == 30
    assert backoff(3, ModelsError(status_code=429, retry_after=1)) == 20
    assert backoff(1, ModelsError(status_code=429, retry_after=900)) == 120


def test_a_zero_base_retries_at_once_whatever_retry_after_says():
    assert Backoff(base_seconds=0)(1, ModelsError(status_code=429, retry_after=30)) == 0


# Attempts -----------------------------------------------------------------


def test_a_retryable_failure_is_tried_again_after_the_retry_after_it_asked_for(make_client, fake):
    fake.fail_next(429, retry_after="7")
    client = make_client()

    models = client.models()

    assert "whisper-1" in models
    assert client.sleeps == [7]
    assert len(fake.requests) == 2


def test_attempts_stop_at_max_attempts_with_the_last_error(make_client, fake):
    fake.fail_next(503, times=5)
    client = make_client(max_attempts=3)

    with pytest.raises(ModelsError) as caught:
        client.models()

    assert caught.value.status_code == 503
    assert len(fake.requests) == 3
    assert client.sleeps == [5, 10]


def test_a_non_retryable_failure_is_raised_at_once(make_client, fake):
    fake.fail_next(404, times=3)
    client = make_client()

    with pytest.raises(ModelsError) as caught:
        client.models()

    assert caught.value.error_code == "http_404"
    assert len(fake.requests) == 1
    assert client.sleeps == []


def test_errors_that_are_not_the_clients_pass_through_uncounted_and_unaudited(make_client, fake):
    client = make_client()

    def broken() -> None:
        raise KeyError("a bug, not an answer")

    with pytest.raises(KeyError):
        client.policy.call(broken, endpoint=client.endpoint, event="test.models", retry_stage="models")

    assert IntegrationLog.objects.count() == 0
    assert circuit_state(client) is None


# Audit, metrics and logs --------------------------------------------------


def test_every_attempt_writes_one_integration_log_row(make_client, fake):
    fake.fail_next(500)
    client = make_client(correlation_id="job-7")

    client.models(resource_ref="call-1")

    rows = list(IntegrationLog.objects.order_by("id"))
    assert [(r.status, r.status_code, r.error_code, r.retry_count) for r in rows] == [
        ("retry", 500, "http_500", 0),
        ("success", 200, None, 1),
    ]
    assert {(r.direction, r.external_system, r.endpoint) for r in rows} == {
        ("outbound", "openai", f"{fake.base_url}/models")
    }
    assert {(r.correlation_id, r.resource_ref) for r in rows} == {("job-7", "call-1")}


def test_a_policy_without_audit_writes_no_rows(make_client, fake):
    make_client(audit=False).models()

    assert IntegrationLog.objects.count() == 0


def test_every_failed_attempt_increments_integration_failures_total(make_client, fake):
    before = failures("openai", "http_503", "models")
    fake.fail_next(503, times=2)

    make_client().models()

    assert failures("openai", "http_503", "models") == before + 2


def test_log_lines_name_the_event_stage_and_attempt(make_client, fake, caplog):
    fake.fail_next(500)
    caplog.set_level(logging.INFO, logger="integrations.outbound")

    make_client(correlation_id="job-7").models()

    lines = [(r.stage, r.attempt, r.levelname) for r in caplog.records if getattr(r, "event", None) == "test.models"]
    assert lines == [("request", 1, "INFO"), ("retry", 1, "WARNING"), ("request", 2, "INFO"), ("success", 2, "INFO")]
    assert {r.correlation_id for r in caplog.records if getattr(r, "event", None) == "test.models"} == {"job-7"}


def test_rate_limited_answers_are_reported_to_the_limiter(make_client, fake):
    limiter = RateLimiter(key="openai:test-limiter", rate=0)
    fake.fail_next(429, times=2)

    make_client(limiter=limiter).models()

    assert len(RateLimitState.objects.get(value="openai:test-limiter").rate_limited_at) == 2


# The circuit breaker ------------------------------------------------------


def open_circuit(client: ModelsClient, fake: FakeOpenAI) -> None:
    fake.fail_next(503, times=10)
    for _ in range(10):
        with pytest.raises(ModelsError):
            client.models()


def test_retryable_failures_open_the_circuit(make_client, fake):
    client = make_client(max_attempts=1)

    open_circuit(client, fake)

    assert circuit_state(client) == "open"


def test_an_open_circuit_refuses_without_a_request_and_counts_circuit_open(make_client, fake):
    client = make_client(max_attempts=1)
    open_circuit(client, fake)
    sent, refused_before = len(fake.requests), failures("openai", "circuit_open", "models")

    with pytest.raises(Unavailable) as caught:
        client.models()

    assert caught.value.endpoint == client.endpoint
    assert len(fake.requests) == sent
    assert failures("openai", "circuit_open", "models") == refused_before + 1
    assert IntegrationLog.objects.count() == 10


def test_answered_client_errors_do_not_open_the_circuit(make_client, fake):
    client = make_client(max_attempts=1)
    fake.fail_next(404, times=10)
    for _ in range(10):
        with pytest.raises(ModelsError):
            client.models()

    assert circuit_state(client) == "closed"
    client.models()
    assert len(fake.requests) == 11


def test_a_call_counts_once_for_the_breaker_after_its_retries(make_client, fake):
    client = make_client(max_attempts=3)
    fake.fail_next(503, times=2)

    client.models()

    circuit = CircuitState.objects.get(value=client.policy.breaker.key)
    assert (circuit.calls, circuit.failures) == (1, 0)


# Bitrix24 through the policy ------------------------------------------------


def test_bitrix24_failures_are_counted_and_audited_as_before(b24_config, fake_b24):
    fake_b24.fail_next("500", times=2)
    client = client_from_config(
        dataclasses.replace(b24_config, b24_use_batch=False), correlation_id="run-9", sleep=lambda seconds: None
    )
    before = failures("b24", "http_500", "fetch_calls")

    client.list_calls(FROM, TO)

    assert failures("b24", "http_500", "fetch_calls") == before + 2
    rows = list(IntegrationLog.objects.filter(correlation_id="run-9").order_by("id"))
    assert [(r.status, r.status_code, r.retry_count) for r in rows[:3]] == [
        ("retry", 500, 0),
        ("retry", 500, 1),
        ("success", 200, 2),
    ]
    assert {r.external_system for r in rows} == {"b24"}
    assert all("/rest/1/***/voximplant.statistic.get.json" in r.endpoint for r in rows)


def test_bitrix24_refusals_are_counted_as_circuit_open(b24_config, fake_b24):
    client = client_from_config(dataclasses.replace(b24_config, b24_max_attempts=1, b24_use_batch=False))
    fake_b24.fail_next("500", times=10)
    for _ in range(10):
        with pytest.raises(Bitrix24HTTPError):
            client.call("voximplant.statistic.get")
    sent, refused_before = fake_b24.count(), failures("b24", "circuit_open", "fetch_calls")

    with pytest.raises(Bitrix24Unavailable) as caught:
        client.call("voximplant.statistic.get")

    assert caught.value.code == caught.value.error_code == "integration.unavailable"
    assert fake_b24.count() == sent
    assert failures("b24", "circuit_open", "fetch_calls") == refused_before + 1
