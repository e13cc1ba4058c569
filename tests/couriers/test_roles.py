"""Who may call what (spec 04 §3): the role matrix of every /api/v1/ww endpoint."""

from __future__ import annotations

from datetime import date

import pytest

from couriers.models import Assignment
from tests.couriers.conftest import ORDER_BODY, send

pytestmark = pytest.mark.django_db

TODAY = date.today().isoformat()
# (method, path, body) → expected status per caller: admin, 1c, the owner courier, another courier.
MATRIX = [
    ("get", "/couriers", None, (200, 200, 403, 403)),
    ("post", "/couriers", {"courier_id": "new-{caller}", "display_name": "Новый"}, (201, 201, 403, 403)),
    ("get", "/orders", None, (200, 200, 200, 200)),
    ("post", "/orders", {**ORDER_BODY, "id": None}, (201, 201, 403, 403)),
    ("get", "/orders/{order}", None, (200, 200, 200, 404)),
    ("patch", "/orders/{new_order}", {"notes": "позвонить заранее"}, (200, 200, 403, 403)),
    ("post", "/orders/{new_order}/assign", {"courier_id": "courier-001"}, (201, 201, 403, 403)),
    ("patch", "/orders/{order}/status", {"status": "IN_TRANSIT"}, (403, 403, 200, 404)),
    ("get", "/orders/{order}/logs", None, (200, 200, 200, 404)),
    ("post", "/assignments/{assignment}/accept", {}, (403, 403, 200, 404)),
    ("get", "/couriers/courier-001/stock", None, (200, 200, 200, 404)),
    (
        "post",
        "/couriers/courier-001/stock/movements",
        {"kind": "load", "items": [{"sku": "A", "qty": 1}]},
        (201, 201, 403, 404),
    ),
    (
        "post",
        "/couriers/courier-001/stock/movements",
        {"kind": "return_in", "items": [{"sku": "A", "qty": 1}]},
        (403, 403, 201, 404),
    ),
    ("get", "/report/deliveries", {"date_from": TODAY, "date_to": TODAY}, (200, 200, 403, 403)),
    ("get", "/export/kmp4", None, (403, 200, 403, 403)),
]
CALLERS = ("admin", "1c", "owner", "other")


@pytest.mark.parametrize(("method", "path", "payload", "expected"), MATRIX, ids=[f"{m} {p}" for m, p, *_ in MATRIX])
def test_each_caller_gets_what_the_matrix_says(client_for, courier, make_order, method, path, payload, expected):
    clients = {
        "admin": client_for("admin", "ops-admin"),
        "1c": client_for("1c", "1c-main"),
        "owner": client_for("courier", "courier-001"),
        "other": client_for("courier", "courier-002"),
    }
    for caller, status in zip(CALLERS, expected, strict=True):
        order = make_order("ASSIGNED")
        new_order = make_order("NEW")
        assignment = Assignment.objects.get(order=order)
        url = path.format(order=order.id, new_order=new_order.id, assignment=assignment.id)
        body = payload
        if isinstance(payload, dict) and payload.get("id", "") is None:
            body = {key: value for key, value in payload.items() if key != "id"}
        if isinstance(body, dict) and "{caller}" in str(body.get("courier_id")):
            body = {**body, "courier_id": body["courier_id"].format(caller=caller)}
        response = send(clients[caller], method, url, body)

        assert response.status_code == status, (caller, response.json())
