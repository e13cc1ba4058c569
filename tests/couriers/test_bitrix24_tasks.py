"""BX-01/BX-04 end to end: an assigned order becomes the courier's Bitrix24 task, its moves update and complete it."""

from __future__ import annotations

import pytest

from couriers.models import Order
from integrations.outbox.models import OutboxEvent
from integrations.outbox.services import events_deliver_due
from tests.couriers.conftest import send

pytestmark = pytest.mark.django_db


def deliver(capture) -> None:
    with capture(execute=True):  # the link's signal goes out after its commit
        events_deliver_due()


def test_the_courier_gets_a_task_that_follows_the_order(
    onec, courier_api, courier, order_body, fake_b24, b24_config, django_capture_on_commit_callbacks
):
    send(onec, "post", "/orders", order_body)
    send(onec, "post", "/orders/UT-000123/assign", {"courier_id": "courier-001"})
    deliver(django_capture_on_commit_callbacks)

    [task] = fake_b24.tasks.values()
    assert task["RESPONSIBLE_ID"] in ("17", 17)
    assert task["TITLE"] == "Доставка заказа UT-000123: Дисплей iPhone 13 и плёнка"
    assert "Получить наличными: 8900.00 RUB" in task["DESCRIPTION"]
    assert Order.objects.get().task_id_b24 == task["ID"]

    send(courier_api, "patch", "/orders/UT-000123/status", {"status": "IN_TRANSIT"})
    send(courier_api, "patch", "/orders/UT-000123/status", {"status": "DONE", "paid_amount": "8900.00"})
    deliver(django_capture_on_commit_callbacks)

    [task] = fake_b24.tasks.values()
    assert task["TITLE"].startswith("В пути: Доставка заказа UT-000123")
    assert fake_b24.count(path_contains="tasks.task.complete") == 1
    assert fake_b24.count(path_contains="tasks.task.add") == 1
    assert set(OutboxEvent.objects.values_list("status", flat=True)) == {"sent"}


def test_the_api_answers_while_bitrix24_is_down_and_the_task_follows_later(
    onec, courier, order_body, fake_b24, b24_config, django_capture_on_commit_callbacks
):
    fake_b24.fail_next("503", times=50)
    send(onec, "post", "/orders", order_body)

    assigned = send(onec, "post", "/orders/UT-000123/assign", {"courier_id": "courier-001"})
    deliver(django_capture_on_commit_callbacks)

    assert assigned.status_code == 201
    waiting = OutboxEvent.objects.get(type="order.assigned")
    assert waiting.status == "pending" and waiting.attempts == 1
    assert fake_b24.tasks == {}


def test_every_change_leaves_its_event_in_the_same_transaction(onec, courier_api, courier, order_body):
    send(onec, "post", "/orders", order_body)
    send(onec, "post", "/orders/UT-000123/assign", {"courier_id": "courier-001"})
    send(onec, "post", "/couriers/courier-001/stock/movements", {"kind": "load", "items": [{"sku": "A", "qty": 2}]})
    refused = send(courier_api, "patch", "/orders/UT-000123/status", {"status": "DONE", "paid_amount": "1.00"})

    assert refused.status_code == 422
    assert list(OutboxEvent.objects.order_by("created_at").values_list("type", "aggregate_id")) == [
        ("order.created", "UT-000123"),
        ("order.assigned", "UT-000123"),
        ("stock.moved", "courier-001"),
    ]
    stock = OutboxEvent.objects.get(type="stock.moved").payload
    assert stock["lines"] == [{"sku": "A", "qty_delta": 2, "compartment": "backpack"}]
