"""The day of one order through the API: 1C creates and assigns it, the courier accepts, starts and finishes."""

from __future__ import annotations

import pytest

from couriers.models import Assignment, Order, OrderStatusLog
from integrations.models import IntegrationLog
from tests.couriers.conftest import send

pytestmark = pytest.mark.django_db


def test_an_order_goes_from_1c_to_the_customer_and_back_into_the_export(onec, courier_api, courier, order_body):
    created = send(onec, "post", "/orders", order_body)
    assert created.status_code == 201, created.json()
    assert created["Location"] == "/api/v1/ww/orders/UT-000123"
    assert created.json()["total_amount"] == "8900.00"  # the sum of the lines
    assert created.json()["status"] == "NEW"

    assigned = send(onec, "post", "/orders/UT-000123/assign", {"courier_id": "courier-001"})
    assert assigned.status_code == 201, assigned.json()
    assignment_id = assigned.json()["id"]

    listed = send(courier_api, "get", "/orders")
    assert [item["id"] for item in listed.json()["items"]] == ["UT-000123"]

    accepted = send(courier_api, "post", f"/assignments/{assignment_id}/accept", {}, key=None)
    assert accepted.json()["status"] == "ACCEPTED"
    started = send(courier_api, "patch", "/orders/UT-000123/status", {"status": "IN_TRANSIT"})
    assert started.json()["status_code_1c"] == "courier_on_route"
    finished = send(courier_api, "patch", "/orders/UT-000123/status", {"status": "DONE", "paid_amount": "8900.00"})
    assert finished.status_code == 200, finished.json()
    assert finished.json()["paid_amount"] == "8900.00"

    log = send(courier_api, "get", "/orders/UT-000123/logs").json()
    assert [(row["from_status"], row["to_status"]) for row in log] == [
        (None, "NEW"),
        ("NEW", "ASSIGNED"),
        ("ASSIGNED", "IN_TRANSIT"),
        ("IN_TRANSIT", "DONE"),
    ]
    assert log[0]["actor"] == "1c:1c-main" and log[-1]["actor"] == "courier:courier-001"
    assert Assignment.objects.get().status == "CLOSED"
    writes = IntegrationLog.objects.filter(direction="inbound").values_list("endpoint", "status_code")
    assert list(writes.order_by("id")) == [
        ("POST /api/v1/ww/orders", 201),
        ("POST /api/v1/ww/orders/UT-000123/assign", 201),
        (f"POST /api/v1/ww/assignments/{assignment_id}/accept", 200),
        ("PATCH /api/v1/ww/orders/UT-000123/status", 200),
        ("PATCH /api/v1/ww/orders/UT-000123/status", 200),
    ]


def test_an_invalid_move_is_422_naming_both_statuses_and_changes_nothing(onec, courier_api, make_order):
    order = make_order("ASSIGNED")

    response = send(courier_api, "patch", f"/orders/{order.id}/status", {"status": "DONE", "paid_amount": "1.00"})

    assert response.status_code == 422
    body = response.json()
    assert body["type"].endswith("/invalid-transition")
    assert "ASSIGNED" in body["detail"] and "DONE" in body["detail"]
    order.refresh_from_db()
    assert (order.status, order.paid_amount) == ("ASSIGNED", 0)
    assert OrderStatusLog.objects.filter(order=order).count() == 2


def test_a_courier_cannot_see_or_move_another_couriers_order(client_for, make_order):
    order = make_order("ASSIGNED", courier_id="courier-002")
    stranger = client_for("courier", "courier-001")

    assert send(stranger, "get", f"/orders/{order.id}").status_code == 404
    assert send(stranger, "patch", f"/orders/{order.id}/status", {"status": "IN_TRANSIT"}).status_code == 404
    assert send(stranger, "get", f"/orders/{order.id}/logs").status_code == 404
    assert Order.objects.get().status == "ASSIGNED"


def test_a_declined_order_goes_back_to_the_pool_and_to_another_courier(onec, courier_api, make_order, client_for):
    order = make_order("ASSIGNED")
    assignment = Assignment.objects.get(order=order)

    declined = send(
        courier_api, "post", f"/assignments/{assignment.id}/decline", {"reason": "сломался самокат"}, key=None
    )
    assert declined.json()["status"] == "DECLINED"
    assert send(onec, "patch", f"/orders/{order.id}/status", {"status": "NEW"}).json()["courier_id"] is None
    client_for("courier", "courier-002")
    again = send(onec, "post", f"/orders/{order.id}/assign", {"courier_id": "courier-002"})

    assert again.status_code == 201
    assert Assignment.objects.filter(order=order).count() == 2
    assert Order.objects.get().courier_id == "courier-002"
