"""The longest values the write serializers accept, from the longest JWT subject, are stored on PostgreSQL.

SQLite ignores ``max_length``, so a column narrower than what the API lets
through (a 100-character history reason once took "created by <subject>")
only fails there; every text below is as long as its serializer allows.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from mastermobile.api.authentication import MAX_SUBJECT_LENGTH

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

SUBJECT = "s" * MAX_SUBJECT_LENGTH
COURIER_ID = "c" * 64  # returns.models.COURIER_ID_PATTERN
ORDER_ID = "O" * 64  # couriers.models.ORDER_ID_PATTERN
# 200 lines of 10 000 at this price are the largest total (12 digits, couriers.models.MAX_AMOUNT_DIGITS).
LINE = {"sku": "S" * 64, "name": "N" * 200, "qty": 10_000, "price": "4999.99"}


def send(client, method: str, path: str, payload: Any = None):
    data = None if payload is None else json.dumps(payload)
    return getattr(client, method)(
        path, data=data, content_type="application/json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()) + "k" * 92
    )


def test_a_return_is_created_replaced_moved_and_cancelled_with_the_longest_values(client_for):
    admin = client_for("admin", SUBJECT)
    client_for("courier", COURIER_ID)  # the courier exists
    line = {
        "sku": "S" * 64,
        "qty": 10_000,
        "quality": "new",
        "reason_code": "R" * 64,
        "reason_note": "n" * 1000,
        "photos": ["p" * 128] * 20,
        "imei": "1" * 16,
        "serial": "s" * 64,
    }
    body = {"source": "warehouse", "courier_id": COURIER_ID, "manager_id": "m" * 64, "comment": "k" * 2000}

    kept, cancelled = (send(admin, "post", "/api/v1/returns", {**body, "items": [line]}) for _ in range(2))
    statuses = [kept.status_code, cancelled.status_code]
    replace = {**body, "items": [line, line]}
    statuses.append(send(admin, "put", f"/api/v1/returns/{kept.json()['id']}", replace).status_code)
    move = {"status": "accepted", "reason": "r" * 500}
    statuses.append(send(admin, "patch", f"/api/v1/returns/{kept.json()['id']}/status", move).status_code)
    statuses.append(send(admin, "delete", f"/api/v1/returns/{cancelled.json()['id']}").status_code)

    assert statuses == [201, 201, 200, 200, 204]


def test_an_order_goes_from_1c_to_done_with_the_longest_values(client_for):
    onec, courier = client_for("1c", SUBJECT), client_for("courier", COURIER_ID)
    order = {
        "id": ORDER_ID,
        "title": "t" * 200,
        "customer_name": "c" * 200,
        "customer_phone": "p" * 32,
        "delivery_address": "a" * 500,
        "order_id_1c": "o" * 64,
        "notes": "n" * 1000,
        "cod_amount": "9999999999.99",
        "items": [LINE] * 200,
    }

    statuses = [send(onec, "post", "/api/v1/ww/orders", order).status_code]
    statuses.append(send(onec, "patch", f"/api/v1/ww/orders/{ORDER_ID}", {"title": "T" * 200}).status_code)
    assigned = send(
        onec, "post", f"/api/v1/ww/orders/{ORDER_ID}/assign", {"courier_id": COURIER_ID, "comment": "k" * 500}
    )
    statuses.append(assigned.status_code)
    statuses.append(send(courier, "post", f"/api/v1/ww/assignments/{assigned.json()['id']}/accept", {}).status_code)
    for change in ({"status": "IN_TRANSIT", "reason": "r" * 500}, {"status": "DONE", "paid_amount": "9999999999.99"}):
        statuses.append(send(courier, "patch", f"/api/v1/ww/orders/{ORDER_ID}/status", change).status_code)

    assert statuses == [201, 200, 201, 200, 200, 200]


def test_a_courier_and_its_stock_movements_are_stored_with_the_longest_values(client_for):
    admin = client_for("admin", SUBJECT)
    courier = {"courier_id": "Z" * 64, "display_name": "D" * 200, "phone": "p" * 32, "b24_user_id": "b" * 64}
    movement = {"kind": "load", "ref": "r" * 128, "items": [{"sku": "S" * 64, "qty": 10_000}] * 200}

    created = send(admin, "post", "/api/v1/ww/couriers", courier)
    loaded = send(admin, "post", f"/api/v1/ww/couriers/{'Z' * 64}/stock/movements", movement)
    unloaded = send(admin, "post", f"/api/v1/ww/couriers/{'Z' * 64}/stock/movements", {"kind": "unload"})

    assert [created.status_code, loaded.status_code, unloaded.status_code] == [201, 201, 201], unloaded.content


def test_a_call_export_is_started_by_the_longest_subject(client_for):
    started = send(client_for("admin", SUBJECT), "post", "/api/v1/call-exports", {"dry_run": True})

    assert started.status_code == 202, started.content
