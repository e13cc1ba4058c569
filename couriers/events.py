"""Outbox events of the Walking Warehouse (EVT-02) and the Bitrix24 task each order change asks for (BX-01).

Called by :mod:`couriers.services` inside the transaction of the change, so an
event exists iff the change committed.  The courier's Bitrix24 task is keyed
by assignment (``order:<order id>:<assignment id>``): an order declined and
handed to another courier gets a new task for the new courier, and a late
answer about the old task never lands on the new one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.utils import timezone

from couriers.models import Assignment, Order, OrderStatus, StockMovement
from integrations.outbox.models import EventType
from integrations.outbox.services import event_publish
from mastermobile.api.datetimes import format_rfc3339

# A courier's task is due within one shift of the hand-over.
TASK_DEADLINE = timedelta(hours=8)
S = OrderStatus
# What the courier reads in the task's title once the order moved on.
TITLE_PREFIX: dict[str, str] = {
    S.IN_TRANSIT: "В пути",
    S.DECLINED: "Отказ курьера",
    S.REJECTED: "Отменён",
}


def task_key(assignment: Assignment) -> str:
    return f"order:{assignment.order_id}:{assignment.pk}"


def order_from_task_key(key: str) -> tuple[str, str] | None:
    """``(order id, assignment id)`` of a key :func:`task_key` made; None for anyone else's key."""
    parts = key.split(":")
    if len(parts) != 3 or parts[0] != "order":
        return None
    return parts[1], parts[2]


def order_summary(order: Order) -> dict[str, Any]:
    return {
        "order_id": order.id,
        "order_id_1c": order.order_id_1c,
        "status": order.status,
        "status_code_1c": order.status_code_1c,
        "courier_id": order.courier_id,
        "total_amount": f"{order.total_amount:.2f}",
        "cod_amount": None if order.cod_amount is None else f"{order.cod_amount:.2f}",
        "paid_amount": f"{order.paid_amount:.2f}",
        "currency_code": order.currency_code,
        "updated_at": format_rfc3339(order.updated_at),
    }


def order_created(order: Order) -> None:
    event_publish(type=EventType.ORDER_CREATED, aggregate="order", aggregate_id=order.id, payload=order_summary(order))


def order_assigned(order: Order, assignment: Assignment) -> None:
    payload = {**order_summary(order), "assignment_id": str(assignment.pk)}
    responsible = assignment.courier.b24_user_id
    if responsible:
        payload["b24_task"] = {
            "op": "add",
            "key": task_key(assignment),
            "fields": {
                "TITLE": _task_title(order),
                "DESCRIPTION": _task_description(order),
                "RESPONSIBLE_ID": responsible,
                "DEADLINE": format_rfc3339(timezone.now() + TASK_DEADLINE),
            },
        }
    event_publish(type=EventType.ORDER_ASSIGNED, aggregate="order", aggregate_id=order.id, payload=payload)


def order_status_changed(order: Order, source: str, reason: str | None) -> None:
    payload = {**order_summary(order), "from_status": source, "reason": reason}
    assignment = (
        Assignment.objects.select_related("courier").filter(order=order).order_by("-created_at").first()
        if source != S.NEW
        else None
    )
    if assignment is not None and assignment.courier.b24_user_id:
        if order.status == S.DONE:
            payload["b24_task"] = {"op": "complete", "key": task_key(assignment), "fields": {}}
        else:
            title = f"{TITLE_PREFIX[order.status]}: {_task_title(order)}" if order.status in TITLE_PREFIX else None
            if title:
                payload["b24_task"] = {"op": "update", "key": task_key(assignment), "fields": {"TITLE": title}}
    event_publish(type=EventType.ORDER_STATUS_CHANGED, aggregate="order", aggregate_id=order.id, payload=payload)


def stock_moved(courier_id: str, kind: str, movements: Sequence[StockMovement], ref: str | None) -> None:
    payload = {
        "courier_id": courier_id,
        "kind": kind,
        "ref": ref,
        "lines": [
            {"sku": move.sku, "qty_delta": move.qty_delta, "compartment": move.compartment} for move in movements
        ],
    }
    event_publish(type=EventType.STOCK_MOVED, aggregate="courier", aggregate_id=courier_id, payload=payload)


def _task_title(order: Order) -> str:
    return f"Доставка заказа {order.id}: {order.title}"[:250]


def _task_description(order: Order) -> str:
    lines = [f"{line.name} ({line.sku}) × {line.qty} — {line.price:.2f}" for line in order.lines.all()]
    cash = f"\nПолучить наличными: {order.cod_amount:.2f} {order.currency_code}" if order.cod_amount else ""
    address = f"\nАдрес: {order.delivery_address}" if order.delivery_address else ""
    return (
        f"Клиент: {order.customer_name}{address}\n"
        + "\n".join(lines)
        + f"\nИтого: {order.total_amount:.2f} {order.currency_code}{cash}"
    )
