"""WW-04 for every pair of statuses: what the table allows moves and is logged; everything else is refused unchanged."""

from __future__ import annotations

from decimal import Decimal

import pytest

from couriers import services
from couriers.exceptions import OrderNotFound, OrderTransitionRefused, StatusNotForRole
from couriers.models import ORDER_TRANSITIONS, OrderStatus, OrderStatusLog
from mastermobile.observability.metrics import WW_ORDER_TRANSITIONS

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _courier(courier):
    return courier


S = OrderStatus
ALLOWED = {
    (S.NEW, S.ASSIGNED),
    (S.NEW, S.REJECTED),
    (S.ASSIGNED, S.IN_TRANSIT),
    (S.ASSIGNED, S.DECLINED),
    (S.ASSIGNED, S.REJECTED),
    (S.IN_TRANSIT, S.DONE),
    (S.IN_TRANSIT, S.REJECTED),
    (S.DECLINED, S.NEW),
}
PAIRS = [(source, target) for source in S.values for target in S.values if source != target]
MANAGER = services.Actor(role="1c", subject="1c-main")
COURIER = services.Actor(role="courier", subject="courier-001")


def move(order, target):
    if target == S.ASSIGNED:
        return services.order_assign(order_id=order.id, courier_id="courier-001", actor=MANAGER)
    actor = COURIER if target in (S.IN_TRANSIT, S.DONE, S.DECLINED) else MANAGER
    return services.order_change_status(
        order_id=order.id,
        status=target,
        actor=actor,
        reason="причина",
        paid_amount=Decimal("1.00") if target == S.DONE else None,
    )


def test_the_table_is_the_one_the_specification_gives():
    assert {(s, t) for s, t in PAIRS if ORDER_TRANSITIONS.allows(s, t)} == ALLOWED
    assert {s for s in S.values if ORDER_TRANSITIONS.is_final(s)} == {S.DONE, S.REJECTED}


@pytest.mark.parametrize(("source", "target"), sorted(ALLOWED))
def test_an_allowed_move_changes_the_status_and_logs_it(make_order, source, target):
    order = make_order(source)
    logged = OrderStatusLog.objects.filter(order=order).count()
    moved = WW_ORDER_TRANSITIONS.labels(**{"from": source, "to": target, "result": "ok"})
    before = moved._value.get()

    move(order, target)

    order.refresh_from_db()
    assert order.status == target
    last = OrderStatusLog.objects.filter(order=order).last()
    assert last is not None
    assert (last.from_status, last.to_status) == (source, target)
    assert OrderStatusLog.objects.filter(order=order).count() == logged + 1
    assert moved._value.get() == before + 1


@pytest.mark.parametrize(("source", "target"), sorted(set(PAIRS) - ALLOWED))
def test_a_forbidden_move_is_refused_and_changes_nothing(make_order, source, target):
    order = make_order(source)
    logged = OrderStatusLog.objects.filter(order=order).count()
    refused = WW_ORDER_TRANSITIONS.labels(**{"from": source, "to": target, "result": "refused"})
    before = refused._value.get()

    with pytest.raises((OrderTransitionRefused, StatusNotForRole, OrderNotFound)) as caught:
        move(order, target)

    after = type(order).objects.get(pk=order.pk)
    assert (after.status, after.courier_id, after.paid_amount) == (order.status, order.courier_id, order.paid_amount)
    assert OrderStatusLog.objects.filter(order=order).count() == logged
    if order.courier_id is None and target in (S.IN_TRANSIT, S.DONE, S.DECLINED):
        # An order without a courier (NEW, or rejected before assignment) is no courier's own.
        assert isinstance(caught.value, OrderNotFound)
    else:
        assert isinstance(caught.value, OrderTransitionRefused)
        assert (caught.value.current, caught.value.requested) == (source, target)
        assert refused._value.get() == before + 1


@pytest.mark.parametrize(
    ("role", "target"),
    [("courier", S.REJECTED), ("courier", S.NEW), ("1c", S.DONE), ("1c", S.IN_TRANSIT), ("admin", S.DECLINED)],
)
def test_a_role_may_only_ask_for_its_own_moves(make_order, role, target):
    order = make_order(S.ASSIGNED)
    actor = services.Actor(role=role, subject="courier-001" if role == "courier" else "someone")

    with pytest.raises(StatusNotForRole):
        services.order_change_status(order_id=order.id, status=target, actor=actor, reason="x")

    order.refresh_from_db()
    assert order.status == S.ASSIGNED
