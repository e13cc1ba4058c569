"""The KMP4 export 1C polls: oldest change first, a cursor that neither skips nor repeats a row (C1-01, WW-07)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from couriers import selectors, services
from couriers.models import Order
from tests.couriers.conftest import send

pytestmark = pytest.mark.django_db

MANAGER = services.Actor(role="1c", subject="1c-main")


def settle() -> None:
    """Age every order past the export's settling time, as a minute between 1C's polls would."""
    Order.objects.update(updated_at=timezone.now() - selectors.KMP4_SETTLE - timedelta(seconds=1))


def pages(client, **params) -> tuple[list[str], str | None]:
    seen, cursor = [], None
    while True:
        query = {**params, "limit": 2, **({"cursor": cursor} if cursor else {})}
        body = send(client, "get", "/export/kmp4", query).json()
        seen += [item["order_id"] for item in body["items"]]
        cursor = body["next_cursor"] or cursor
        if not body["has_more"]:
            return seen, cursor


def test_an_order_is_serialised_as_1c_reads_it(onec, courier, make_order):
    order = make_order("IN_TRANSIT", id="UT-1")
    settle()

    [item] = send(onec, "get", "/export/kmp4").json()["items"]

    assert item["order_id"] == "UT-1"
    assert item["status_code"] == "courier_on_route"
    assert item["courier_id"] == "courier-001"
    assert item["total_amount"] == "8900.00" and item["currency_code"] == "RUB"
    assert item["items"] == [
        {"sku": "LCD-IP13", "name": "Дисплей iPhone 13", "qty": 1, "price": "8500.00"},
        {"sku": "FILM-IP13", "name": "Плёнка защитная", "qty": 2, "price": "200.00"},
    ]
    assert item["updated_at"].endswith("Z") and order.id == "UT-1"


def test_paging_with_the_cursor_gives_every_order_once_in_change_order(onec, make_order):
    for index in range(5):
        make_order("NEW", id=f"UT-{index}")
    settle()  # all share one updated_at: the id breaks the tie

    seen, _ = pages(onec)

    assert seen == [f"UT-{index}" for index in range(5)]


def test_an_order_changed_between_pages_comes_again_and_none_is_skipped(onec, make_order):
    for index in range(4):
        make_order("NEW", id=f"UT-{index}")
        Order.objects.filter(pk=f"UT-{index}").update(updated_at=timezone.now() - timedelta(minutes=10 - index))
    first = send(onec, "get", "/export/kmp4", {"limit": 2}).json()
    assert [item["order_id"] for item in first["items"]] == ["UT-0", "UT-1"]

    services.order_change_status(order_id="UT-0", status="REJECTED", actor=MANAGER, reason="отмена клиентом")
    services.order_update(order_id="UT-3", actor=MANAGER, notes="домофон 12")
    settle_later = timezone.now() + selectors.KMP4_SETTLE + timedelta(seconds=1)
    rest = selectors.kmp4_page(cursor=first["next_cursor"], limit=10, now=settle_later)

    assert [order.id for order in rest.orders] == ["UT-2", "UT-0", "UT-3"]
    assert rest.orders[1].status_code_1c == "cancelled_by_manager"


def test_changes_younger_than_the_settling_time_wait_for_the_next_poll(onec, make_order):
    make_order("NEW", id="UT-1")

    body = send(onec, "get", "/export/kmp4").json()

    assert body["items"] == [] and body["next_cursor"] is None
    later = selectors.kmp4_page(now=timezone.now() + selectors.KMP4_SETTLE + timedelta(seconds=1))
    assert [order.id for order in later.orders] == ["UT-1"]


def test_an_empty_page_keeps_the_cursor_to_poll_from(onec, make_order):
    make_order("NEW", id="UT-1")
    settle()
    _, cursor = pages(onec)

    again = send(onec, "get", "/export/kmp4", {"cursor": cursor}).json()

    assert again == {"items": [], "next_cursor": cursor, "has_more": False}


def test_updated_since_is_inclusive(onec, make_order):
    make_order("NEW", id="UT-1")
    settle()
    moment = Order.objects.get().updated_at

    body = send(onec, "get", "/export/kmp4", {"updated_since": moment.isoformat()}).json()

    assert [item["order_id"] for item in body["items"]] == ["UT-1"]


@pytest.mark.parametrize("cursor", ["garbage", "W10", "WyJ4IiwieSJd"])
def test_a_cursor_the_export_did_not_give_is_400_naming_it(onec, cursor):
    response = send(onec, "get", "/export/kmp4", {"cursor": cursor})

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "cursor"
