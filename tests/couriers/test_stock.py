"""Backpack stock (WW-10…WW-12): movements per SKU, sales never below zero, the end-of-shift unload."""

from __future__ import annotations

import pytest

from couriers import services
from couriers.exceptions import InsufficientStock
from couriers.models import MAX_HELD, CourierStock, StockMovement
from tests.couriers.conftest import send

pytestmark = pytest.mark.django_db

BASE = services.Actor(role="1c", subject="1c-main")
COURIER = services.Actor(role="courier", subject="courier-001")


def load(courier_id: str = "courier-001", **skus: int) -> None:
    services.stock_move(
        courier_id=courier_id, kind="load", actor=BASE, items=[{"sku": sku, "qty": qty} for sku, qty in skus.items()]
    )


def held(courier_id: str = "courier-001") -> dict[str, tuple[int, int]]:
    rows = CourierStock.objects.filter(courier_id=courier_id)
    return {row.sku: (row.qty, row.returned_qty) for row in rows}


def test_a_load_adds_to_the_backpack_and_a_sale_takes_from_it(courier):
    load(LCD=2, FILM=5)
    load(FILM=1)

    services.stock_move(courier_id="courier-001", kind="sale", actor=COURIER, items=[{"sku": "FILM", "qty": 4}])

    assert held() == {"LCD": (2, 0), "FILM": (2, 0)}
    assert list(StockMovement.objects.order_by("id").values_list("kind", "sku", "qty_delta")) == [
        ("load", "LCD", 2),
        ("load", "FILM", 5),
        ("load", "FILM", 1),
        ("sale", "FILM", -4),
    ]


def test_a_sale_larger_than_the_stock_is_409_and_changes_nothing(courier_api, courier):
    load(LCD=1, FILM=5)
    sale = {"kind": "sale", "items": [{"sku": "FILM", "qty": 1}, {"sku": "LCD", "qty": 2}]}

    response = send(courier_api, "post", "/couriers/courier-001/stock/movements", sale)

    assert response.status_code == 409
    assert "LCD" in response.json()["detail"]
    assert held() == {"LCD": (1, 0), "FILM": (5, 0)}  # the FILM line of the same sale is undone too
    assert not StockMovement.objects.filter(kind="sale").exists()


def test_a_sale_of_an_sku_never_loaded_is_409(courier):
    with pytest.raises(InsufficientStock) as caught:
        services.stock_move(courier_id="courier-001", kind="sale", actor=COURIER, items=[{"sku": "X", "qty": 1}])

    assert caught.value.available == 0


def test_two_lines_of_one_sku_are_one_movement(courier):
    load(FILM=5)

    moved = services.stock_move(
        courier_id="courier-001",
        kind="sale",
        actor=COURIER,
        items=[{"sku": "FILM", "qty": 2}, {"sku": "FILM", "qty": 3}],
    )

    assert [(m.sku, m.qty_delta) for m in moved] == [("FILM", -5)]
    assert held() == {"FILM": (0, 0)}


def test_a_return_goes_into_the_returns_compartment_not_the_backpack(courier):
    load(LCD=1)

    services.stock_move(courier_id="courier-001", kind="return_in", actor=COURIER, items=[{"sku": "LCD", "qty": 1}])

    assert held() == {"LCD": (1, 1)}
    assert StockMovement.objects.get(kind="return_in").compartment == "returns"


def test_an_unload_without_items_takes_back_everything_one_movement_per_sku_and_compartment(onec, courier):
    load(LCD=2, FILM=3)
    services.stock_move(courier_id="courier-001", kind="return_in", actor=COURIER, items=[{"sku": "CASE", "qty": 1}])

    response = send(
        onec, "post", "/couriers/courier-001/stock/movements", {"kind": "unload", "ref": "смена 2026-12-02"}
    )

    assert response.status_code == 201
    assert sorted((m["sku"], m["compartment"], m["qty_delta"]) for m in response.json()) == [
        ("CASE", "returns", -1),
        ("FILM", "backpack", -3),
        ("LCD", "backpack", -2),
    ]
    assert all(m["ref"] == "смена 2026-12-02" for m in response.json())
    assert send(onec, "get", "/couriers/courier-001/stock").json() == []


def test_a_movement_without_lines_other_than_an_unload_is_422(onec, courier):
    response = send(onec, "post", "/couriers/courier-001/stock/movements", {"kind": "load"})

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "items"


def test_a_courier_may_not_load_its_own_backpack(courier_api):
    response = send(
        courier_api,
        "post",
        "/couriers/courier-001/stock/movements",
        {"kind": "load", "items": [{"sku": "A", "qty": 1}]},
    )

    assert response.status_code == 403
    assert not CourierStock.objects.exists()


def test_movements_for_an_unknown_courier_are_404(onec):
    response = send(
        onec, "post", "/couriers/nobody/stock/movements", {"kind": "load", "items": [{"sku": "A", "qty": 1}]}
    )

    assert response.status_code == 404


def test_a_load_beyond_what_a_compartment_may_hold_is_409_and_changes_nothing(onec, courier):
    # Past PostgreSQL's integer the UPDATE used to fail with "integer out of range", a 500 (SQLite stored it).
    load(LCD=1, FILM=1)
    CourierStock.objects.filter(sku="LCD").update(qty=MAX_HELD - 5)

    response = send(
        onec,
        "post",
        "/couriers/courier-001/stock/movements",
        {"kind": "load", "items": [{"sku": "FILM", "qty": 1}, {"sku": "LCD", "qty": 6}]},
    )

    assert response.status_code == 409, response.content
    assert response.json()["errors"][0]["field"] == "items"
    assert held() == {"LCD": (MAX_HELD - 5, 0), "FILM": (1, 0)}
    assert StockMovement.objects.filter(kind="load").count() == 2
