"""Every read of the Walking Warehouse: orders with their lines, the status log, stock, the delivery report, KMP4."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from couriers.exceptions import CourierNotFound, OrderNotFound
from couriers.models import (
    Assignment,
    CourierStock,
    Order,
    OrderLine,
    OrderStatus,
    OrderStatusLog,
    StockMovement,
)
from mastermobile.api.datetimes import format_rfc3339, parse_rfc3339
from mastermobile.errors import BadFilterError
from returns.models import Courier

# KMP4 rows younger than this are left for the next poll: a transaction that
# stamped ``updated_at`` earlier may still be committing, and a cursor that
# moved past it would skip that row for good.
KMP4_SETTLE = timedelta(seconds=5)
KMP4_MAX_LIMIT = 500


def _with_lines(orders: QuerySet[Order]) -> QuerySet[Order]:
    return orders.select_related("courier").prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.order_by("id"))
    )


def courier_list(*, is_active: bool | None = None, q: str | None = None) -> QuerySet[Courier]:
    couriers = Courier.objects.order_by("courier_id")
    if is_active is not None:
        couriers = couriers.filter(is_active=is_active)
    if q:
        couriers = couriers.filter(Q(courier_id__icontains=q) | Q(display_name__icontains=q) | Q(phone__icontains=q))
    return couriers


def assignment_search(assignments: QuerySet[Assignment], *, query: str) -> QuerySet[Assignment]:
    """The assignments among ``assignments`` that the admin's search box finds: every word must match.

    A word is the order's number exactly or part of its title, or the
    courier's id exactly or part of their name.  Orders and couriers are
    searched first, on their own indexes, and the assignments by their
    foreign keys: a join of all three would be read in full before filtering.
    """
    for word in query.split():
        orders = Order.objects.filter(Q(pk=word) | Q(title__icontains=word)).values("pk")
        couriers = Courier.objects.filter(Q(pk=word) | Q(display_name__icontains=word)).values("pk")
        assignments = assignments.filter(Q(order__in=orders) | Q(courier__in=couriers))
    return assignments


def courier_get(*, courier_id: str) -> Courier:
    found = Courier.objects.filter(pk=courier_id).first()
    if found is None:
        raise CourierNotFound(courier_id)
    return found


def order_list(
    *,
    statuses: Iterable[str] = (),
    courier_id: str | None = None,
    q: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
) -> QuerySet[Order]:
    """Newest first, with lines and courier; ``q`` matches the id, the title, the 1C id or the customer."""
    orders = Order.objects.order_by("-created_at", "id")
    statuses = list(statuses)
    if statuses:
        orders = orders.filter(status__in=statuses)
    if courier_id is not None:
        orders = orders.filter(courier_id=courier_id)
    if q:
        orders = orders.filter(
            Q(id__icontains=q) | Q(title__icontains=q) | Q(order_id_1c__icontains=q) | Q(customer_name__icontains=q)
        )
    if created_from is not None:
        orders = orders.filter(created_at__gte=created_from)
    if created_to is not None:
        orders = orders.filter(created_at__lte=created_to)
    return _with_lines(orders)


def order_get(*, order_id: str, courier_id: str | None = None) -> Order:
    """One order with its lines; ``courier_id`` hides other couriers' orders (as not found)."""
    orders = Order.objects.filter(pk=order_id)
    if courier_id is not None:
        orders = orders.filter(courier_id=courier_id)
    found = _with_lines(orders).first()
    if found is None:
        raise OrderNotFound(order_id)
    return found


def order_status_log(*, order_id: str, courier_id: str | None = None) -> QuerySet[OrderStatusLog]:
    order_get_id = Order.objects.filter(pk=order_id)
    if courier_id is not None:
        order_get_id = order_get_id.filter(courier_id=courier_id)
    if not order_get_id.exists():
        raise OrderNotFound(order_id)
    return OrderStatusLog.objects.filter(order_id=order_id).order_by("ts", "id")


def courier_stock(*, courier_id: str) -> QuerySet[CourierStock]:
    """What the courier holds now, SKUs with nothing in either compartment left out."""
    courier_get(courier_id=courier_id)
    return CourierStock.objects.filter(courier_id=courier_id).exclude(qty=0, returned_qty=0).order_by("sku")


def courier_recent_movements(*, courier_id: str, limit: int = 20) -> QuerySet[StockMovement]:
    return StockMovement.objects.filter(courier_id=courier_id).order_by("-ts", "-id")[:limit]


def courier_recent_orders(*, courier_id: str, limit: int = 20) -> QuerySet[Order]:
    return Order.objects.filter(courier_id=courier_id).order_by("-created_at")[:limit]


def order_delivered_quantities(*, order_ref: str, lock: bool = False) -> dict[str, int] | None:
    """What a known order handed to its customer, per SKU (C1-03); None when MasterMobile does not know the order.

    ``order_ref`` is what a return names: our order id or 1C's.  An order not
    delivered (yet) delivered nothing: ``{}``.  ``lock`` holds the order row for
    the caller's transaction (returns of one order are checked one at a time).
    """
    orders = Order.objects.filter(Q(pk=order_ref) | Q(order_id_1c=order_ref)).order_by("-created_at")
    order = (orders.select_for_update() if lock else orders).first()
    if order is None:
        return None
    if order.status != OrderStatus.DONE:
        return {}
    delivered: dict[str, int] = {}
    for sku, qty in order.lines.values_list("sku", "qty"):
        delivered[sku] = delivered.get(sku, 0) + qty
    return delivered


# Delivery report ---------------------------------------------------------


@dataclass(frozen=True)
class DeliveryRow:
    """One courier's orders created on one (local) day (C1-05: cash collected per courier and day)."""

    day: date
    courier_id: str
    courier_name: str
    orders: int
    by_status: dict[str, int]
    total_amount: Decimal
    delivered_amount: Decimal
    cash_collected: Decimal
    avg_delivery_minutes: float | None


def delivery_report(*, date_from: date, date_to: date, courier_id: str | None = None) -> list[DeliveryRow]:
    """Per courier and day of creation (in ``TIME_ZONE``) within ``[date_from, date_to]``, both inclusive.

    The delivery time of an order is from its (last) start, IN_TRANSIT, to DONE,
    read from the status log.
    """
    zone = timezone.get_current_timezone()
    orders = Order.objects.filter(courier__isnull=False).annotate(day=TruncDate("created_at", tzinfo=zone))
    orders = orders.filter(day__gte=date_from, day__lte=date_to)
    if courier_id is not None:
        orders = orders.filter(courier_id=courier_id)
    status_counts = {status: Count("id", filter=Q(status=status)) for status in OrderStatus.values}
    groups = (
        orders.values("day", "courier_id", "courier__display_name")
        .annotate(
            orders_total=Count("id"),
            amount=Sum("total_amount"),
            delivered=Sum("total_amount", filter=Q(status=OrderStatus.DONE)),
            cash=Sum("paid_amount", filter=Q(status=OrderStatus.DONE)),
            **{f"n_{status}": count for status, count in status_counts.items()},
        )
        .order_by("day", "courier_id")
    )
    durations = _delivery_minutes(orders)
    zero = Decimal("0.00")
    rows = []
    for group in groups:
        minutes = durations.get((group["day"], group["courier_id"]), [])
        rows.append(
            DeliveryRow(
                day=group["day"],
                courier_id=group["courier_id"],
                courier_name=group["courier__display_name"],
                orders=group["orders_total"],
                # The n_<status> counts are annotated above under names built at run time.
                by_status={status: group[f"n_{status}"] for status in OrderStatus.values},  # type: ignore[literal-required]
                total_amount=group["amount"] or zero,
                delivered_amount=group["delivered"] or zero,
                cash_collected=group["cash"] or zero,
                avg_delivery_minutes=round(sum(minutes) / len(minutes), 1) if minutes else None,
            )
        )
    return rows


def _delivery_minutes(orders: QuerySet[Order]) -> dict[tuple[date, str], list[float]]:
    log = OrderStatusLog.objects.filter(order=OuterRef("pk")).order_by("-ts", "-id").values("ts")
    delivered = orders.filter(status=OrderStatus.DONE).annotate(
        started=Subquery(log.filter(to_status=OrderStatus.IN_TRANSIT)[:1]),
        finished=Subquery(log.filter(to_status=OrderStatus.DONE)[:1]),
    )
    minutes: dict[tuple[date, str], list[float]] = {}
    for day, courier_id, started, finished in delivered.values_list("day", "courier_id", "started", "finished"):
        if started and finished:
            minutes.setdefault((day, courier_id), []).append((finished - started).total_seconds() / 60)
    return minutes


# KMP4 export for 1C ------------------------------------------------------


@dataclass(frozen=True)
class Kmp4Cursor:
    """A position in (updated_at, id) order; opaque to 1C."""

    updated_at: datetime
    order_id: str

    def encode(self) -> str:
        raw = json.dumps([format_rfc3339(self.updated_at), self.order_id], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str) -> Kmp4Cursor:
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            moment, order_id = json.loads(raw)
            return cls(parse_rfc3339(moment), str(order_id))
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
            raise BadFilterError("cursor", "not a cursor this export gave out") from None


@dataclass(frozen=True)
class Kmp4Page:
    orders: list[Order]
    next_cursor: str | None
    has_more: bool


def kmp4_page(
    *,
    updated_since: datetime | None = None,
    cursor: str | None = None,
    limit: int = 100,
    now: datetime | None = None,
) -> Kmp4Page:
    """Orders changed after the cursor (or since ``updated_since``, inclusive), oldest change first.

    Keyset pagination on (``updated_at``, ``id``): a row changed again between
    two pages moves behind the cursor and comes once more, with its new state;
    an unchanged row never comes twice, and none is skipped.  ``next_cursor``
    is where to go on — also when the page is empty, so 1C keeps polling from
    it.
    """
    orders = Order.objects.order_by("updated_at", "id")
    if cursor:
        position = Kmp4Cursor.decode(cursor)
        orders = orders.filter(
            Q(updated_at__gt=position.updated_at) | Q(updated_at=position.updated_at, id__gt=position.order_id)
        )
    elif updated_since is not None:
        orders = orders.filter(updated_at__gte=updated_since)
    orders = orders.filter(updated_at__lte=(now or timezone.now()) - KMP4_SETTLE)
    page = list(_with_lines(orders)[: limit + 1])
    has_more = len(page) > limit
    page = page[:limit]
    if page:
        next_cursor: str | None = Kmp4Cursor(page[-1].updated_at, page[-1].id).encode()
    else:
        next_cursor = cursor or None
    return Kmp4Page(orders=page, next_cursor=next_cursor, has_more=has_more)


def kmp4_item(order: Order) -> dict[str, Any]:
    """One order as 1C reads it (spec 04 §3, WW-07 codes)."""
    return {
        "order_id": order.id,
        "order_id_1c": order.order_id_1c,
        "title": order.title,
        "customer_name": order.customer_name,
        "status_code": order.status_code_1c,
        "total_amount": f"{order.total_amount:.2f}",
        "paid_amount": f"{order.paid_amount:.2f}",
        "currency_code": order.currency_code,
        "courier_id": order.courier_id,
        "notes": order.notes,
        "created_at": format_rfc3339(order.created_at),
        "updated_at": format_rfc3339(order.updated_at),
        "items": [
            {"sku": line.sku, "name": line.name, "qty": line.qty, "price": f"{line.price:.2f}"}
            for line in order.lines.all()
        ],
    }
