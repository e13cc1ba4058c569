"""The order pages of the back-office: the list, its filters and search, the order page and its form."""

from __future__ import annotations

import pytest

from couriers.models import Order, OrderStatusLog
from returns.models import Courier

pytestmark = pytest.mark.django_db

LIST = "/admin/couriers/order/"


def change_url(order: Order) -> str:
    return f"/admin/couriers/order/{order.pk}/change/"


def test_the_order_list_shows_statuses_by_their_russian_names(admin_client, make_order):
    make_order("IN_TRANSIT", id="UT-1")

    page = admin_client.get(LIST).content.decode()

    assert "Заказы" in page and 'mm-badge-warn">В пути</span>' in page


def test_the_status_filter_keeps_only_orders_of_that_status(admin_client, make_order):
    make_order("NEW", id="UT-NEW")
    make_order("DONE", id="UT-DONE")

    page = admin_client.get(LIST, {"status__exact": "DONE"}).content.decode()

    assert "UT-DONE" in page and "UT-NEW" not in page


def test_the_courier_filter_keeps_only_that_couriers_orders(admin_client, make_order):
    make_order("ASSIGNED", id="UT-A", courier_id="courier-001")
    make_order("ASSIGNED", id="UT-B", courier_id="courier-002")

    page = admin_client.get(LIST, {"courier": "courier-002"}).content.decode()

    assert "UT-B" in page and "UT-A" not in page


def test_the_courier_filter_finds_orders_without_a_courier(admin_client, make_order):
    make_order("NEW", id="UT-POOL")
    make_order("ASSIGNED", id="UT-TAKEN")

    page = admin_client.get(LIST, {"courier": "-"}).content.decode()

    assert "UT-POOL" in page and "UT-TAKEN" not in page


def test_the_search_finds_an_order_by_its_1c_number(admin_client, make_order):
    make_order(id="UT-X", order_id_1c="000777")
    make_order(id="UT-Y", order_id_1c="000888")

    page = admin_client.get(LIST, {"q": "000777"}).content.decode()

    assert "UT-X" in page and "UT-Y" not in page


def test_the_order_page_shows_the_status_code_1c_sees(admin_client, make_order):
    order = make_order("ASSIGNED")

    page = admin_client.get(change_url(order)).content.decode()

    assert "assigned_to_courier" in page and "Журнал статусов" in page and "Назначения" in page


def test_a_delivered_order_is_only_shown_without_a_save_button(admin_client, make_order):
    order = make_order("DONE")

    page = admin_client.get(change_url(order)).content.decode()

    assert 'name="_save"' not in page and 'name="title"' not in page


def test_saving_a_new_order_cannot_change_its_status(admin_client, make_order):
    order = make_order("NEW", id="UT-1")
    form = {
        "title": "Новое название",
        "notes": "",
        "lines-TOTAL_FORMS": "2",
        "lines-INITIAL_FORMS": "2",
        "lines-MIN_NUM_FORMS": "1",
        "lines-MAX_NUM_FORMS": "200",
        **{
            f"lines-{index}-{name}": value
            for index, line in enumerate(order.lines.order_by("id"))
            for name, value in {
                "id": line.pk,
                "order": order.pk,
                "sku": line.sku,
                "name": line.name,
                "qty": line.qty,
                "price": line.price,
            }.items()
        },
        **{
            f"{inline}-{name}": "0"
            for inline in ("assignments", "status_log")
            for name in ("TOTAL_FORMS", "INITIAL_FORMS")
        },
        "status": "DONE",
        "_save": "1",
    }

    response = admin_client.post(change_url(order), form)

    assert response.status_code == 302, response.content.decode()[:2000]
    order.refresh_from_db()
    assert (order.title, order.status) == ("Новое название", "NEW")


def test_an_order_added_in_the_admin_is_created_by_the_service_with_its_log(admin_client):
    form = {
        "id": "UT-ADMIN-1",
        "title": "Чехол",
        "customer_name": "Пётр Сидоров",
        "customer_phone": "",
        "delivery_address": "",
        "order_id_1c": "",
        "cod_amount": "",
        "notes": "",
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "1",
        "lines-MAX_NUM_FORMS": "200",
        "lines-0-sku": "CASE-1",
        "lines-0-name": "Чехол",
        "lines-0-qty": "2",
        "lines-0-price": "500.00",
        "_save": "1",
    }

    response = admin_client.post("/admin/couriers/order/add/", form)

    assert response.status_code == 302, response.content.decode()[:2000]
    order = Order.objects.get(pk="UT-ADMIN-1")
    assert (order.status, str(order.total_amount), order.created_by) == ("NEW", "1000.00", "admin:admin")
    assert OrderStatusLog.objects.filter(order=order, to_status="NEW").exists()


def test_an_order_cannot_be_deleted_in_the_admin(admin_client, make_order):
    order = make_order("REJECTED")

    response = admin_client.post(f"/admin/couriers/order/{order.pk}/delete/", {"post": "yes"})

    assert response.status_code == 403
    assert Order.objects.filter(pk=order.pk).exists()


def test_an_inactive_courier_is_not_offered_in_the_courier_filter(admin_client, make_order):
    Courier.objects.create(courier_id="courier-gone", display_name="Уволенный Курьер", is_active=False)

    page = admin_client.get(LIST).content.decode()

    assert "Уволенный Курьер" not in page
