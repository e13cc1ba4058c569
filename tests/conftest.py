"""Shared fixtures: API clients with tokens for each role; markers for what a run has (database, broker, browser)."""

from __future__ import annotations

import dataclasses
import os
import signal
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from rest_framework.test import APIClient

from mastermobile.api.authentication import issue_token
from returns.models import Courier
from tests.browser import CHROMIUM
from tests.fakes.bitrix24 import FakeBitrix24

# A suite started in the background by a non-interactive shell (CI does) inherits SIGINT ignored, and
# every process it starts would too, so the tests that press Ctrl-C on a command would test nothing.
# A handler here is reset to the default disposition in each child at exec, as in a terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    available = {
        "postgres": settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
        "redis": settings.APP_CONFIG.uses_redis_broker,
        "browser": CHROMIUM.is_file(),
    }
    reasons = {
        "postgres": "needs PostgreSQL (set DATABASE_URL=postgres://…); CI runs it",
        "redis": "needs the Redis broker (Q_BROKER=redis); CI runs it",
        "browser": f"needs headless Chromium at {CHROMIUM} (apt-get install chromium); CI runs it",
    }
    # CI sets REQUIRE_MARKERS so that these tests can never be skipped silently there.
    required = {name for name in os.environ.get("REQUIRE_MARKERS", "").split(",") if name}
    missing = sorted(name for name in required if not available.get(name))
    if missing:
        raise pytest.UsageError(f"REQUIRE_MARKERS asks for {', '.join(missing)}, which this run does not have")
    for item in items:
        for marker, present in available.items():
            if marker in item.keywords and not present:
                item.add_marker(pytest.mark.skip(reason=reasons[marker]))


@pytest.fixture(autouse=True, scope="session")
def _test_jwt_secret() -> None:
    """Sign test tokens with a secret of recommended length (the default 'changeme' is 8 bytes)."""
    settings.APP_CONFIG = dataclasses.replace(settings.APP_CONFIG, jwt_secret="test-secret-" + "0123456789abcdef" * 3)


@pytest.fixture
def make_token() -> Callable[..., str]:
    def make(role: str = "admin", subject: str = "test-client", lifetime: timedelta = timedelta(minutes=5)) -> str:
        config = settings.APP_CONFIG
        return issue_token(
            subject=subject, role=role, lifetime=lifetime, secret=config.jwt_secret, issuer=config.jwt_issuer
        )

    return make


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def client_for(make_token: Callable[..., str]) -> Callable[..., APIClient]:
    """``client_for("courier", "courier-001")`` — an APIClient sending that role's bearer token.

    A courier's subject must be an active Courier (PLAT-40 as issue 8 tightened it); it is created.
    """

    def build(role: str = "admin", subject: str = "test-client") -> APIClient:
        if role == "courier":
            Courier.objects.get_or_create(courier_id=subject, defaults={"display_name": subject})
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token(role, subject)}")
        return client

    return build


@pytest.fixture
def on_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture
def fake_b24() -> Iterator[FakeBitrix24]:
    """A fake portal with 120 calls and no rate limit of its own (tests that need one build their own)."""
    with FakeBitrix24(calls=120, rate=0) as fake:
        yield fake


@pytest.fixture
def b24_config(fake_b24: FakeBitrix24, settings):
    """Settings pointing at the fake portal: no throttling and no backoff sleeps."""
    config = dataclasses.replace(
        settings.APP_CONFIG,
        b24_base_url=fake_b24.base_url + "/rest",
        b24_webhook_user_id=fake_b24.user_id,
        b24_webhook_token=fake_b24.token,
        b24_rate_limit_rps=0,
        b24_backoff_seconds=0,
        b24_max_attempts=5,
        request_timeout_s=5,
    )
    settings.APP_CONFIG = config
    return config


@pytest.fixture
def throttle_queries(settings) -> int:
    """Statements the per-subject throttle adds to a request of a caller it has seen in this window.

    One ``UPDATE`` of the caller's TokenBucket row on the database store, none
    when it counts in Redis (``Q_BROKER=redis``); see mastermobile.api.throttling.
    """
    return 1 if settings.API_THROTTLE_STORE == "database" else 0


@pytest.fixture
def enqueue_queries(settings) -> int:
    """Statements an outbox event's delivery task adds to the write that publishes it.

    Its ``INSERT`` into django-q2's queue table, in the write's transaction, on
    the ORM broker; none when the task goes to Redis after the commit.
    """
    return 1 if settings.Q_CLUSTER.get("orm") else 0
