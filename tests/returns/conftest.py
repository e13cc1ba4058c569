"""Builders for returns tests: valid bodies, posting with a key, returns made through services."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from returns import services
from returns.models import Return

URL = "/api/v1/returns"

VALID_BODY: dict[str, Any] = {
    "source": "warehouse",
    "courier_id": "courier-001",
    "order_id_1c": "ORD-1",
    "comment": "left at the door",
    "items": [
        {"sku": "SKU-1001", "qty": 1, "quality": "new", "reason_code": "customer_changed_mind"},
        {
            "sku": "SKU-1002",
            "qty": 2,
            "quality": "defect",
            "reason_code": "broken_screen",
            "reason_note": "cracked",
            "photos": ["file-1", "file-2"],
            "imei": "356938035643809",
            "serial": "SN-9",
        },
    ],
}


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    """Every test starts from zero: the rate limit's Redis counters outlive a test (its database rows do not)."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def body() -> dict[str, Any]:
    return copy.deepcopy(VALID_BODY)


def detail_url(return_id: object) -> str:
    return f"{URL}/{return_id}"


def new_key() -> str:
    return str(uuid.uuid4())


def send(
    client: APIClient, method: str, url: str, payload: Any = None, *, key: str | None = None, raw: str | None = None
):
    """Send JSON (or ``raw`` text) with an optional Idempotency-Key."""
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    data = raw if raw is not None else (None if payload is None else json.dumps(payload))
    return getattr(client, method)(url, data=data, content_type="application/json", **headers)


@pytest.fixture
def admin_api(client_for) -> APIClient:
    return client_for("admin", "ops-admin")


@pytest.fixture
def courier_api(client_for) -> APIClient:
    return client_for("courier", "courier-001")


@pytest.fixture
def onec_api(client_for) -> APIClient:
    return client_for("1c", "1c-main")


@pytest.fixture
def make_return() -> Callable[..., Return]:
    def make(*, status: str = Return.Status.PENDING, **overrides: Any) -> Return:
        data = copy.deepcopy(VALID_BODY)
        data.update(overrides)
        created = services.return_create(**data, created_by="factory")
        services.return_set_status(return_id=created.return_id, status=status, actor="factory")
        created.refresh_from_db()
        return created

    return make
