"""Stock movements, backpack stock and assignments are read-only lists; the courier page shows the backpack."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from couriers import services
from returns.models import Courier

pytestmark = pytest.mark.django_db

OFFICE = services.Actor(role="admin", subject="warehouse")


@pytest.fixture
def loaded(courier):
    services.stock_move(
        courier_id=courier.pk,
        kind="load",
        actor=OFFICE,
        items=[{"sku": "CASE-IP13", "qty": 5}, {"sku": "GLASS-IP13", "qty": 3}],
        ref="смена-1",
    )
    services.stock_move(courier_id=courier.pk, kind="sale", actor=OFFICE, items=[{"sku": "CASE-IP13", "qty": 2}])
    return courier


def test_the_movement_list_shows_kinds_in_russian_and_signed_changes(admin_client, loaded):
    page = admin_client.get("/admin/couriers/stockmovement/").content.decode()

    assert "Движения товара" in page and "Продано из рюкзака" in page and "\N{MINUS SIGN}2" in page


def test_the_movement_list_filters_by_kind(admin_client, loaded):
    page = admin_client.get("/admin/couriers/stockmovement/", {"kind__exact": "sale"}).content.decode()

    assert "CASE-IP13" in page and "GLASS-IP13" not in page


def test_the_movement_list_finds_a_movement_by_its_reference(admin_client, loaded):
    response = admin_client.get("/admin/couriers/stockmovement/", {"q": "смена-1"})

    assert response.context["cl"].result_count == 2


def test_a_movement_cannot_be_added_in_the_admin(admin_client, loaded):
    assert admin_client.get("/admin/couriers/stockmovement/add/").status_code == 403


def test_the_backpack_stock_list_filters_by_courier(admin_client, loaded):
    response = admin_client.get("/admin/couriers/courierstock/", {"courier": "courier-001"})

    assert "Остатки в рюкзаке" in response.content.decode()
    assert response.context["cl"].result_count == 2


def test_the_assignment_list_shows_the_status_in_russian(admin_client, make_order, courier):
    make_order("ASSIGNED")

    page = admin_client.get("/admin/couriers/assignment/", {"status__exact": "PENDING"}).content.decode()

    assert "Назначения" in page and "Ждёт ответа курьера" in page


def test_the_courier_page_shows_what_the_backpack_holds(admin_client, loaded):
    page = admin_client.get("/admin/returns/courier/courier-001/change/").content.decode()

    assert "Сейчас в рюкзаке" in page and "CASE-IP13" in page and "GLASS-IP13" in page


def test_the_courier_page_links_the_couriers_recent_orders(admin_client, make_order, courier):
    make_order("IN_TRANSIT", id="UT-555")

    page = admin_client.get("/admin/returns/courier/courier-001/change/").content.decode()

    assert 'href="/admin/couriers/order/UT-555/change/"' in page and "Последние заказы" in page


@pytest.mark.parametrize("term", ["UT-FIND", "Петров", "courier-001"])
def test_the_assignment_list_finds_by_order_number_courier_name_and_id(admin_client, make_order, courier, term):
    make_order("ASSIGNED", id="UT-FIND", title="Чехол")
    Courier.objects.create(courier_id="courier-002", display_name="Анна Смирнова")
    make_order("ASSIGNED", id="UT-OTHER", courier_id="courier-002")

    found = admin_client.get("/admin/couriers/assignment/", {"q": term}).context["cl"].result_list

    assert [assignment.order_id for assignment in found] == ["UT-FIND"]


def test_the_assignment_search_asks_orders_and_couriers_first_and_joins_nothing(admin_client, make_order, courier):
    make_order("ASSIGNED", id="UT-FIND")

    with CaptureQueriesContext(connection) as queries:
        admin_client.get("/admin/couriers/assignment/", {"q": "UT-FIND"})

    listed = [query["sql"] for query in queries.captured_queries if 'FROM "couriers_assignment"' in query["sql"]]
    [count] = [sql for sql in listed if sql.startswith("SELECT COUNT(")]
    assert "JOIN" not in count
    assert '"couriers_assignment"."order_id" IN (SELECT' in count


def test_the_movement_search_compares_the_sku_whole_so_its_index_answers(admin_client, loaded):
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get("/admin/couriers/stockmovement/", {"q": "GLASS-IP13"})

    assert response.context["cl"].result_count == 1
    listed = [query["sql"] for query in queries.captured_queries if 'FROM "couriers_stockmovement"' in query["sql"]]
    assert listed and not any("UPPER(" in sql or "LIKE" in sql for sql in listed)
