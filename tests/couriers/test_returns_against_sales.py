"""C1-03/C1-04: returns of a delivered order are checked against what it delivered; return changes publish events."""

from __future__ import annotations

import pytest

from integrations.outbox.models import OutboxEvent
from returns import services as returns
from returns.models import Return
from tests.couriers.conftest import new_key

pytestmark = pytest.mark.django_db

URL = "/api/v1/returns"


def line(sku: str, qty: int, quality: str = "new") -> dict:
    return {"sku": sku, "qty": qty, "quality": quality, "reason_code": "customer_changed_mind"}


def post_return(client, order_ref: str, *lines: dict):
    body = {"source": "warehouse", "courier_id": "courier-001", "order_id_1c": order_ref, "items": list(lines)}
    return client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY=new_key())


def test_a_return_within_what_the_order_delivered_is_taken(courier_api, make_order):
    make_order("DONE", order_id_1c="000123")  # LCD-IP13 × 1, FILM-IP13 × 2

    response = post_return(courier_api, "000123", line("FILM-IP13", 2))

    assert response.status_code == 201


def test_more_than_delivered_less_earlier_returns_is_409_naming_the_sku(courier_api, make_order):
    make_order("DONE", order_id_1c="000123")
    assert post_return(courier_api, "000123", line("FILM-IP13", 1)).status_code == 201

    response = post_return(courier_api, "000123", line("FILM-IP13", 2))

    assert response.status_code == 409
    assert "FILM-IP13: 2 asked, 1 left to return" in response.json()["detail"]
    assert Return.objects.count() == 1


def test_an_sku_the_order_never_had_is_409(courier_api, make_order):
    make_order("DONE", id="UT-7")

    response = post_return(courier_api, "UT-7", line("CASE-IP13", 1))

    assert response.status_code == 409


def test_an_order_not_yet_delivered_takes_no_return(courier_api, make_order):
    make_order("IN_TRANSIT", order_id_1c="000123")

    assert post_return(courier_api, "000123", line("FILM-IP13", 1)).status_code == 409


def test_a_cancelled_return_frees_its_quantity_again(courier_api, make_order, admin_api):
    make_order("DONE", order_id_1c="000123")
    first = post_return(courier_api, "000123", line("FILM-IP13", 2)).json()
    returns.return_cancel(return_id=first["id"], actor="admin:ops")

    assert post_return(courier_api, "000123", line("FILM-IP13", 2)).status_code == 201


def test_a_return_of_an_order_we_do_not_know_is_taken_as_it_is(courier_api, courier):
    assert post_return(courier_api, "SHOP-55", line("ANY", 50)).status_code == 201


def test_a_rejected_defect_return_asks_the_courier_to_take_the_goods_back(courier_api, make_order):
    make_order("DONE", order_id_1c="000123")
    created = post_return(courier_api, "000123", line("LCD-IP13", 1, quality="defect")).json()

    returns.return_set_status(return_id=created["id"], status="rejected", actor="1c:1c-main", reason="не наш брак")

    assert list(
        OutboxEvent.objects.filter(aggregate="return").order_by("created_at").values_list("type", flat=True)
    ) == [
        "return.created",
        "return.rejected",
    ]
    task = OutboxEvent.objects.get(type="return.rejected").payload["b24_task"]
    assert task["op"] == "add" and task["fields"]["RESPONSIBLE_ID"] == "17"
    assert task["fields"]["TITLE"].startswith("Вернуть товар покупателю")
    assert "LCD-IP13 × 1" in task["fields"]["DESCRIPTION"] and "не наш брак" in task["fields"]["DESCRIPTION"]


def test_an_accepted_return_publishes_its_event_without_a_task(courier_api, courier):
    created = post_return(courier_api, "SHOP-55", line("ANY", 1, quality="defect")).json()

    returns.return_set_status(return_id=created["id"], status="accepted", actor="1c:1c-main")

    event = OutboxEvent.objects.get(type="return.accepted")
    assert event.aggregate_id == created["id"] and "b24_task" not in event.payload
