"""The Bitrix24 circuit breaker against the fake portal over real HTTP (PLAT-64)."""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from integrations.bitrix24 import (
    Bitrix24HTTPError,
    Bitrix24TransportError,
    Bitrix24Unavailable,
    RequestContext,
    client_from_config,
)
from integrations.circuitbreaker import CircuitBreaker, Permit
from integrations.models import CircuitState
from mastermobile.observability.metrics import INTEGRATION_FAILURES

pytestmark = pytest.mark.django_db

METHOD = "voximplant.statistic.get"


class Clock:
    def __init__(self) -> None:
        self.moment = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def config(b24_config):
    """One attempt per call, so one injected fault is one failed call."""
    return dataclasses.replace(b24_config, b24_max_attempts=1, b24_use_batch=False)


def breaker_for(config, clock: Clock) -> CircuitBreaker:
    host = urlsplit(config.b24_base_url).netloc
    return CircuitBreaker(key=f"b24:{host}", system="b24", now=clock)


def make_client(config, clock: Clock):
    return client_from_config(config, breaker=breaker_for(config, clock), sleep=lambda seconds: None)


def call(client) -> dict:
    return client.call(METHOD)


def fail_calls(client, fake, times: int, kind: str = "500") -> None:
    fake.fail_next(kind, times=times)
    for _ in range(times):
        with pytest.raises((Bitrix24HTTPError, Bitrix24TransportError)):
            call(client)


def open_circuit(client, fake) -> None:
    fail_calls(client, fake, 10)
    assert circuit_state(client) == "open"


def circuit_state(client) -> str | None:
    return CircuitState.objects.filter(value=client.breaker.key).values_list("state", flat=True).first()


def circuit_open_failures(stage: str = "fetch_calls") -> float:
    return INTEGRATION_FAILURES.labels(system="b24", reason="circuit_open", retry_stage=stage)._value.get()


def test_it_opens_when_half_of_ten_calls_fail(config, fake_b24, clock):
    client = make_client(config, clock)
    for _ in range(5):
        call(client)

    fail_calls(client, fake_b24, 5)

    assert circuit_state(client) == "open"


def test_transport_errors_count_as_failures(config, fake_b24, clock):
    client = make_client(config, clock)

    fail_calls(client, fake_b24, 10, kind="reset")

    assert circuit_state(client) == "open"


def test_it_stays_closed_below_half_failures(config, fake_b24, clock):
    client = make_client(config, clock)
    for _ in range(6):
        call(client)

    fail_calls(client, fake_b24, 4)

    assert circuit_state(client) == "closed"
    call(client)


def test_it_stays_closed_below_the_minimum_number_of_calls(config, fake_b24, clock):
    client = make_client(config, clock)

    fail_calls(client, fake_b24, 9)

    assert circuit_state(client) == "closed"
    before = fake_b24.count()
    call(client)
    assert fake_b24.count() == before + 1


def test_failures_older_than_the_window_do_not_count(config, fake_b24, clock):
    client = make_client(config, clock)
    fail_calls(client, fake_b24, 9)
    clock.advance(60)

    fail_calls(client, fake_b24, 1)

    assert circuit_state(client) == "closed"


def test_an_open_circuit_fails_fast_without_a_request(config, fake_b24, clock):
    client = make_client(config, clock)
    open_circuit(client, fake_b24)
    requests_before, refused_before = fake_b24.count(), circuit_open_failures()

    with pytest.raises(Bitrix24Unavailable) as refused:
        call(client)

    assert fake_b24.count() == requests_before
    assert refused.value.code == "integration.unavailable"
    assert fake_b24.token not in str(refused.value)
    assert circuit_open_failures() == refused_before + 1


def test_recording_downloads_are_refused_too(config, fake_b24, clock):
    client = make_client(config, clock)
    open_circuit(client, fake_b24)
    url = fake_b24.items[0]["CALL_RECORD_URL"]
    before = fake_b24.count()

    with pytest.raises(Bitrix24Unavailable):
        client.open_recording(url, context=RequestContext(stage="download", event="call_export.recording"))

    assert fake_b24.count() == before


def test_it_stays_open_for_thirty_seconds(config, fake_b24, clock):
    client = make_client(config, clock)
    open_circuit(client, fake_b24)
    clock.advance(29.9)
    before = fake_b24.count()

    with pytest.raises(Bitrix24Unavailable):
        call(client)

    assert fake_b24.count() == before


def test_a_successful_probe_after_thirty_seconds_closes_it(config, fake_b24, clock):
    client = make_client(config, clock)
    open_circuit(client, fake_b24)
    clock.advance(30)
    before = fake_b24.count()

    call(client)

    assert fake_b24.count() == before + 1
    assert circuit_state(client) == "closed"
    call(client)


def test_a_failed_probe_opens_it_again_for_thirty_seconds(config, fake_b24, clock):
    client = make_client(config, clock)
    open_circuit(client, fake_b24)
    clock.advance(30)

    fail_calls(client, fake_b24, 1)

    assert circuit_state(client) == "open"
    clock.advance(29)
    with pytest.raises(Bitrix24Unavailable):
        call(client)
    clock.advance(1)
    call(client)
    assert circuit_state(client) == "closed"


def test_only_one_probe_goes_out_while_half_open(config, fake_b24, clock):
    client = make_client(config, clock)
    open_circuit(client, fake_b24)
    clock.advance(30)
    assert client.breaker.admit() is Permit.PROBE
    before = fake_b24.count()

    with pytest.raises(Bitrix24Unavailable):
        call(client)

    assert fake_b24.count() == before
    assert circuit_state(client) == "half_open"


def test_a_probe_that_never_reports_frees_its_slot_after_thirty_seconds(config, fake_b24, clock):
    client = make_client(config, clock)
    open_circuit(client, fake_b24)
    clock.advance(30)
    assert client.breaker.admit() is Permit.PROBE
    clock.advance(30)

    call(client)

    assert circuit_state(client) == "closed"


def test_the_circuit_is_shared_by_clients_of_the_same_portal(config, fake_b24, clock):
    first, second = make_client(config, clock), make_client(config, clock)
    open_circuit(first, fake_b24)
    before = fake_b24.count()

    with pytest.raises(Bitrix24Unavailable):
        call(second)

    assert fake_b24.count() == before


def test_a_blip_absorbed_by_retries_counts_as_one_successful_call(b24_config, fake_b24, clock):
    client = make_client(dataclasses.replace(b24_config, b24_max_attempts=5), clock)

    for _ in range(12):
        fake_b24.fail_next("500", times=4)
        call(client)

    circuit = CircuitState.objects.get(value=client.breaker.key)
    assert (circuit.state, circuit.calls, circuit.failures) == ("closed", 12, 0)
    assert fake_b24.count() == 12 * 5


def test_a_call_is_counted_once_after_its_retries_run_out(b24_config, fake_b24, clock):
    client = make_client(dataclasses.replace(b24_config, b24_max_attempts=5), clock)
    fake_b24.fail_next("500", times=5)

    with pytest.raises(Bitrix24HTTPError):
        call(client)

    circuit = CircuitState.objects.get(value=client.breaker.key)
    assert (circuit.calls, circuit.failures) == (1, 1)


def test_answered_client_errors_do_not_count_as_failures(config, fake_b24, clock):
    client = make_client(config, clock)

    fail_calls(client, fake_b24, 10, kind="400")

    assert circuit_state(client) == "closed"


def test_opening_and_closing_are_logged(config, fake_b24, clock, caplog):
    client = make_client(config, clock)
    caplog.set_level(logging.INFO, logger="integrations.circuitbreaker")

    open_circuit(client, fake_b24)
    clock.advance(30)
    call(client)

    events = [r.event for r in caplog.records if r.name == "integrations.circuitbreaker"]
    assert events == ["integration.b24.circuit_open", "integration.b24.circuit_closed"]


def test_a_success_in_a_closed_circuit_is_one_statement(clock):
    breaker = CircuitBreaker(key="openai:example", system="openai", now=clock)
    breaker.record(ok=True, permit=Permit.CALL)

    with CaptureQueriesContext(connection) as queries:
        breaker.record(ok=True, permit=Permit.CALL)

    assert [query["sql"].split()[0] for query in queries] == ["UPDATE"]
    assert CircuitState.objects.values_list("calls", "failures").get(value=breaker.key) == (2, 0)


def test_a_success_after_the_window_starts_a_new_one(clock):
    breaker = CircuitBreaker(key="openai:example", system="openai", now=clock)
    for _ in range(9):
        breaker.record(ok=False, permit=Permit.CALL)
    clock.advance(60)

    breaker.record(ok=True, permit=Permit.CALL)

    circuit = CircuitState.objects.get(value=breaker.key)
    assert (circuit.state, circuit.calls, circuit.failures, circuit.window_started) == ("closed", 1, 0, clock())


def test_a_success_that_makes_ten_calls_with_half_failed_opens_the_circuit(clock):
    breaker = CircuitBreaker(key="openai:example", system="openai", now=clock)
    for _ in range(5):
        breaker.record(ok=False, permit=Permit.CALL)
    for _ in range(4):
        breaker.record(ok=True, permit=Permit.CALL)
    assert CircuitState.objects.get(value=breaker.key).state == "closed"

    breaker.record(ok=True, permit=Permit.CALL)

    assert CircuitState.objects.values_list("state", "calls", "failures").get(value=breaker.key) == ("open", 10, 5)
