"""Adaptive ``batch`` size: a batch slower than the timeout is halved, then grown back (B24-13 on large portals)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from integrations.bitrix24 import Bitrix24TransportError, client_from_config
from integrations.bitrix24.client import BATCH_GROW_AFTER, BATCH_LIMIT, BatchSize
from tests.fakes.bitrix24 import FakeBitrix24

pytestmark = pytest.mark.django_db

FROM = datetime(2000, 1, 1, tzinfo=UTC)
TO = datetime(2100, 1, 1, tzinfo=UTC)
TIMEOUT = 0.4


@pytest.fixture
def slow_portal(b24_config):
    """60 pages; a batch of more than 10 commands answers after 1 s, longer than the client's 0.4 s."""
    with FakeBitrix24(calls=3000, rate=0, slow_batch_above=10, slow_batch_seconds=1.0) as fake:
        config = dataclasses.replace(
            b24_config,
            b24_base_url=fake.base_url,
            b24_webhook_token=fake.token,
            request_timeout_s=TIMEOUT,
            b24_use_batch=True,
        )
        yield fake, config


def test_a_batch_slower_than_the_timeout_is_halved_until_the_portal_answers(slow_portal):
    fake, config = slow_portal

    calls = client_from_config(config).list_calls(FROM, TO)

    assert [item["CALL_ID"] for item in calls] == [item["CALL_ID"] for item in fake.items]
    assert fake.batch_sizes[:4] == [50, 25, 12, 6]
    # Three answered batches of 6, then the size tries 12 again, which times out and halves.
    assert fake.batch_sizes[3:8] == [6, 6, 6, 12, 6]


def test_a_page_too_slow_even_alone_fails_clearly_after_its_attempts(slow_portal):
    fake, config = slow_portal
    fake.slow_batch_above = 0
    client = client_from_config(dataclasses.replace(config, b24_max_attempts=7))

    with pytest.raises(Bitrix24TransportError) as caught:
        client.list_calls(FROM, TO)

    assert fake.batch_sizes == [50, 25, 12, 6, 3, 1, 1]
    assert caught.value.code == "timeout"
    assert str(caught.value) == (
        f"Bitrix24 request timed out after {TIMEOUT:g} s: {fake.base_url}/rest/1/***/batch.json"
    )


def test_a_server_error_from_batch_halves_it_too(b24_config, fake_b24):
    fake_b24.fail_next("500", match="batch")
    client = client_from_config(dataclasses.replace(b24_config, b24_use_batch=True))

    calls = client.list_calls(FROM, TO)

    assert len(calls) == len(fake_b24.items)
    assert client.batch_size.current == BATCH_LIMIT // 2
    assert fake_b24.count("batch") == 2


def test_rate_limit_answers_leave_the_batch_size_alone(b24_config, fake_b24):
    fake_b24.fail_next("query_limit", match="batch")
    client = client_from_config(dataclasses.replace(b24_config, b24_use_batch=True))

    client.list_calls(FROM, TO)

    assert client.batch_size.current == BATCH_LIMIT
    assert fake_b24.count("batch") == 2


def test_the_size_halves_down_to_one_and_doubles_back_after_successes():
    size = BatchSize()

    for expected in (25, 12, 6, 3, 1, 1):
        size.shrink()
        assert size.current == expected
    grown = []
    for _ in range(BATCH_GROW_AFTER * 7):
        size.grow()
        grown.append(size.current)

    assert grown[BATCH_GROW_AFTER - 2] == 1 and grown[BATCH_GROW_AFTER - 1] == 2
    assert grown[-1] == BATCH_LIMIT and sorted(set(grown)) == [1, 2, 4, 8, 16, 32, 50]
