"""Idempotency-Key on the Walking Warehouse writes: a repeat replays, a changed body is 409, nothing runs twice."""

from __future__ import annotations

import pytest

from couriers.models import Assignment, Order, OrderStatusLog, StockMovement
from tests.couriers.conftest import new_key, send

pytestmark = pytest.mark.django_db


def test_repeating_an_order_create_replays_the_stored_answer(onec, order_body):
    key = new_key()
    first = send(onec, "post", "/orders", order_body, key=key)

    again = send(onec, "post", "/orders", order_body, key=key)

    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert again["Location"] == first["Location"]
    assert Order.objects.count() == 1


def test_the_same_key_with_another_body_is_409(onec, order_body):
    key = new_key()
    send(onec, "post", "/orders", order_body, key=key)

    changed = send(onec, "post", "/orders", {**order_body, "title": "Другое"}, key=key)

    assert changed.status_code == 409
    assert changed.json()["type"].endswith("/idempotency-key-reused")


def test_a_create_without_a_key_is_400_and_stores_nothing(onec, order_body):
    response = send(onec, "post", "/orders", order_body, key=None)

    assert response.status_code == 400
    assert Order.objects.count() == 0


def test_repeating_an_assignment_creates_one_assignment(onec, courier, make_order):
    order = make_order("NEW")
    key = new_key()
    first = send(onec, "post", f"/orders/{order.id}/assign", {"courier_id": courier.courier_id}, key=key)

    again = send(onec, "post", f"/orders/{order.id}/assign", {"courier_id": courier.courier_id}, key=key)

    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Assignment.objects.count() == 1


def test_repeating_a_status_change_logs_it_once(courier_api, make_order):
    order = make_order("ASSIGNED")
    key = new_key()
    send(courier_api, "patch", f"/orders/{order.id}/status", {"status": "IN_TRANSIT"}, key=key)

    again = send(courier_api, "patch", f"/orders/{order.id}/status", {"status": "IN_TRANSIT"}, key=key)

    assert again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert OrderStatusLog.objects.filter(order=order, to_status="IN_TRANSIT").count() == 1


def test_repeating_a_sale_takes_the_goods_once(onec, courier_api, courier):
    send(
        onec,
        "post",
        f"/couriers/{courier.courier_id}/stock/movements",
        {"kind": "load", "items": [{"sku": "A", "qty": 3}]},
    )
    key = new_key()
    sale = {"kind": "sale", "items": [{"sku": "A", "qty": 2}], "ref": "чек 15"}
    send(courier_api, "post", f"/couriers/{courier.courier_id}/stock/movements", sale, key=key)

    send(courier_api, "post", f"/couriers/{courier.courier_id}/stock/movements", sale, key=key)

    stock = send(courier_api, "get", f"/couriers/{courier.courier_id}/stock").json()
    assert stock[0]["qty"] == 1
    assert StockMovement.objects.filter(kind="sale").count() == 1
