"""Shared fixtures: API clients with tokens for each role, database markers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from rest_framework.test import APIClient

from mastermobile.api.authentication import issue_token


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    on_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    on_redis = settings.APP_CONFIG.uses_redis_broker
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL=postgres://…); CI runs it"))
        if "redis" in item.keywords and not on_redis:
            item.add_marker(pytest.mark.skip(reason="needs the Redis broker (Q_BROKER=redis); CI runs it"))


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
    """``client_for("courier", "courier-001")`` — an APIClient sending that role's bearer token."""

    def build(role: str = "admin", subject: str = "test-client") -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token(role, subject)}")
        return client

    return build


@pytest.fixture
def on_postgres() -> bool:
    return connection.vendor == "postgresql"
