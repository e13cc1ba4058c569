"""Statements per request on the Walking Warehouse's hot paths (issue 13, item 9), pinned so they cannot creep up.

Counted for a caller the throttle has seen in this window (``throttle_queries``
is its one UPDATE on the database store, none on Redis); a courier's token
also costs the check that the courier is active.
"""

from __future__ import annotations

import pytest

from tests.couriers.conftest import send

pytestmark = pytest.mark.django_db

COURIER_CHECK = 1
# One transaction (here a SAVEPOINT … RELEASE inside the test's): the claim, the stored answer, the audit row.
IDEMPOTENT_WRITE = 2 + 1 + 1 + 1


@pytest.fixture
def warm(courier_api, onec):
    """One request each, so the throttle rows exist and the counts below are the steady state."""
    send(courier_api, "get", "/orders")
    send(onec, "get", "/orders")


def test_a_status_change_costs_a_fixed_number_of_statements(
    courier_api,
    make_order,
    warm,
    throttle_queries,
    enqueue_queries,
    django_assert_num_queries,
):
    order = make_order("ASSIGNED")
    # Operation: SELECT … FOR UPDATE, its lines, UPDATE order, UPDATE assignment, INSERT log,
    # SELECT the assignment for the task key, INSERT event (and its delivery task).
    operation = 7 + enqueue_queries

    with django_assert_num_queries(COURIER_CHECK + throttle_queries + IDEMPOTENT_WRITE + operation):
        response = send(courier_api, "patch", f"/orders/{order.id}/status", {"status": "IN_TRANSIT"})

    assert response.status_code == 200


def test_a_backpack_sale_costs_a_fixed_number_of_statements(
    courier_api,
    onec,
    courier,
    warm,
    throttle_queries,
    enqueue_queries,
    django_assert_num_queries,
):
    send(onec, "post", "/couriers/courier-001/stock/movements", {"kind": "load", "items": [{"sku": "A", "qty": 2}]})
    # Operation: the courier exists, conditional UPDATE, INSERT movement, INSERT event (and its delivery task).
    operation = 4 + enqueue_queries

    with django_assert_num_queries(COURIER_CHECK + throttle_queries + IDEMPOTENT_WRITE + operation):
        response = send(
            courier_api,
            "post",
            "/couriers/courier-001/stock/movements",
            {"kind": "sale", "items": [{"sku": "A", "qty": 1}]},
        )

    assert response.status_code == 201


def test_an_order_page_costs_three_statements_however_many_lines(
    onec, make_order, warm, throttle_queries, django_assert_num_queries
):
    for _ in range(5):
        make_order("NEW")

    with django_assert_num_queries(throttle_queries + 3):  # COUNT, the page with couriers, all its lines
        response = send(onec, "get", "/orders")

    assert len(response.json()["items"]) == 5
