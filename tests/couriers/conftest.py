"""Builders for Walking Warehouse tests: clients per role, orders made through the API or the services."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from couriers import services
from couriers.models import Order
from returns.models import Courier

BASE = "/api/v1/ww"
MANAGER = services.Actor(role="1c", subject="1c-main")

ORDER_BODY: dict[str, Any] = {
    "id": "UT-000123",
    "title": "Дисплей iPhone 13 и плёнка",
    "customer_name": "Анна Смирнова",
    "customer_phone": "+79161234567",
    "delivery_address": "Москва, ул. Тверская, 1",
    "order_id_1c": "000123",
    "cod_amount": "8900.00",
    "items": [
        {"sku": "LCD-IP13", "name": "Дисплей iPhone 13", "qty": 1, "price": "8500.00"},
        {"sku": "FILM-IP13", "name": "Плёнка защитная", "qty": 2, "price": "200.00"},
    ],
}


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    cache.clear()
    yield
    cache.clear()


def new_key() -> str:
    return str(uuid.uuid4())


def send(client: APIClient, method: str, path: str, payload: Any = None, *, key: str | None = "new"):
    """JSON to ``BASE + path``; writes get a fresh Idempotency-Key unless ``key`` says otherwise (None: no key)."""
    headers = {}
    if key is not None and method != "get":
        headers["HTTP_IDEMPOTENCY_KEY"] = new_key() if key == "new" else key
    if method == "get":
        return client.get(BASE + path, payload)
    data = None if payload is None else json.dumps(payload)
    return getattr(client, method)(BASE + path, data=data, content_type="application/json", **headers)


@pytest.fixture
def order_body() -> dict[str, Any]:
    return copy.deepcopy(ORDER_BODY)


@pytest.fixture
def onec(client_for) -> APIClient:
    return client_for("1c", "1c-main")


@pytest.fixture
def admin_api(client_for) -> APIClient:
    return client_for("admin", "ops-admin")


@pytest.fixture
def courier() -> Courier:
    return Courier.objects.create(courier_id="courier-001", display_name="Иван Петров", b24_user_id="17")


@pytest.fixture
def courier_api(client_for, courier) -> APIClient:
    return client_for("courier", courier.courier_id)


@pytest.fixture
def make_order() -> Callable[..., Order]:
    """An order in any status, moved there through the services as the API would."""

    def make(status: str = "NEW", *, courier_id: str = "courier-001", id: str | None = None, **fields: Any) -> Order:
        data = copy.deepcopy(ORDER_BODY)
        data.pop("id")
        data.update(fields)
        lines = [
            services.LineData(sku=line["sku"], name=line["name"], qty=line["qty"], price=Decimal(line["price"]))
            for line in data.pop("items")
        ]
        data["cod_amount"] = Decimal(data["cod_amount"]) if data.get("cod_amount") else None
        order = services.order_create(lines=lines, actor=MANAGER, id=id, **data)
        courier_actor = services.Actor(role="courier", subject=courier_id)
        path = {
            "NEW": [],
            "ASSIGNED": ["assign"],
            "IN_TRANSIT": ["assign", "IN_TRANSIT"],
            "DONE": ["assign", "IN_TRANSIT", "DONE"],
            "REJECTED": ["REJECTED"],
            "DECLINED": ["assign", "DECLINED"],
        }[status]
        for step in path:
            if step == "assign":
                Courier.objects.get_or_create(courier_id=courier_id, defaults={"display_name": courier_id})
                services.order_assign(order_id=order.id, courier_id=courier_id, actor=MANAGER)
            elif step == "REJECTED":
                services.order_change_status(order_id=order.id, status=step, actor=MANAGER, reason="отмена")
            else:
                services.order_change_status(
                    order_id=order.id,
                    status=step,
                    actor=courier_actor,
                    reason="не успеваю" if step == "DECLINED" else None,
                    paid_amount=Decimal("8900.00") if step == "DONE" else None,
                )
        order.refresh_from_db()
        return order

    return make
