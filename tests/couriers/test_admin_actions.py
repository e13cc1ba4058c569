"""The order list's actions call the services for each order and report every refusal as a message."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages

from couriers.models import Assignment

pytestmark = pytest.mark.django_db

LIST = "/admin/couriers/order/"


def run(client, action: str, orders, **fields):
    data = {"action": action, "_selected_action": [order.pk for order in orders], **fields}
    return client.post(LIST, data, follow=True)


def texts(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)] or [
        str(message) for message in response.context["messages"]
    ]


def test_assigning_first_shows_a_page_to_choose_the_courier(admin_client, make_order, courier):
    order = make_order("NEW")

    response = admin_client.post(LIST, {"action": "assign_to_courier", "_selected_action": [order.pk]})

    assert response.status_code == 200
    assert "Назначение заказов курьеру" in response.content.decode()
    assert "Иван Петров (courier-001)" in response.content.decode()


def test_assigning_a_new_order_makes_it_assigned_to_the_chosen_courier(admin_client, make_order, courier):
    order = make_order("NEW")

    response = run(admin_client, "assign_to_courier", [order], apply="1", courier="courier-001", comment="срочно")

    order.refresh_from_db()
    assert (order.status, order.courier_id) == ("ASSIGNED", "courier-001")
    assert Assignment.objects.get(order=order).comment == "срочно"
    assert any("назначен курьеру Иван Петров" in text for text in texts(response))


def test_assigning_an_order_that_is_not_new_gives_an_error_and_changes_nothing(admin_client, make_order, courier):
    order = make_order("DONE", id="UT-DONE")

    response = run(admin_client, "assign_to_courier", [order], apply="1", courier="courier-001")

    order.refresh_from_db()
    assert order.status == "DONE"
    assert Assignment.objects.filter(order=order).count() == 1
    assert texts(response) == ["Заказ UT-DONE в статусе «Доставлен»: перевести его в «Назначен» нельзя."]


def test_rejecting_needs_a_reason(admin_client, make_order):
    order = make_order("NEW")

    response = run(admin_client, "reject", [order], apply="1", reason="")

    order.refresh_from_db()
    assert order.status == "NEW"
    assert "Обязательное поле" in response.content.decode()


def test_rejecting_cancels_the_order_with_the_reason_in_its_log(admin_client, make_order):
    order = make_order("ASSIGNED")

    response = run(admin_client, "reject", [order], apply="1", reason="клиент передумал")

    order.refresh_from_db()
    assert order.status == "REJECTED"
    assert order.status_log.last().reason == "клиент передумал"
    assert texts(response) == ["1 заказ отклонён."]


def test_returning_a_declined_order_to_the_pool_makes_it_new_without_a_courier(admin_client, make_order):
    order = make_order("DECLINED")

    run(admin_client, "return_to_pool", [order])

    order.refresh_from_db()
    assert (order.status, order.courier_id) == ("NEW", None)


def test_returning_an_order_that_was_not_declined_is_refused_for_that_order_only(admin_client, make_order):
    declined = make_order("DECLINED", id="UT-D")
    moving = make_order("IN_TRANSIT", id="UT-T")

    response = run(admin_client, "return_to_pool", [declined, moving])

    declined.refresh_from_db()
    moving.refresh_from_db()
    assert (declined.status, moving.status) == ("NEW", "IN_TRANSIT")
    assert texts(response) == [
        "Заказ UT-T в статусе «В пути»: перевести его в «Новый» нельзя.",
        "1 заказ возвращён в пул.",
    ]
