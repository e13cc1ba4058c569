"""Every write of the Walking Warehouse: the API views and the admin call these functions.

Each function is one transaction.  Order status changes go through
:func:`order_change_status` only: it checks the move against
``ORDER_TRANSITIONS`` under a row lock, writes the status log row (WW-05) and
counts the attempt, so the API, the admin and the courier's actions cannot
disagree about what is allowed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypedDict

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Prefetch
from django.utils import timezone

from couriers import events
from couriers.exceptions import (
    AssignmentClosed,
    AssignmentNotFound,
    CourierExists,
    CourierInactive,
    CourierNotFound,
    InsufficientStock,
    OrderExists,
    OrderNotEditable,
    OrderNotFound,
    OrderTransitionRefused,
    StatusNotForRole,
    StockLimitExceeded,
)
from couriers.models import (
    MAX_HELD,
    MAX_LINES,
    ORDER_TRANSITIONS,
    Assignment,
    Compartment,
    CourierStock,
    Order,
    OrderLine,
    OrderStatus,
    OrderStatusLog,
    StockKind,
    StockMovement,
)
from mastermobile.db import atomic
from mastermobile.observability.context import current_request_id
from mastermobile.observability.metrics import WW_ORDER_TRANSITIONS
from returns.models import Courier

S = OrderStatus

# WW-04 "who": the targets each role may ask for.  Assigning (NEW → ASSIGNED)
# has its own operation because it names the courier.
ROLE_TARGETS: dict[str, frozenset[str]] = {
    "admin": frozenset({S.REJECTED, S.NEW}),
    "1c": frozenset({S.REJECTED, S.NEW}),
    "courier": frozenset({S.IN_TRANSIT, S.DONE, S.DECLINED}),
}
# What a stock movement does to which compartment: +1 adds, -1 takes away.
MOVEMENT_SIGN: dict[str, int] = {StockKind.LOAD: 1, StockKind.RETURN_IN: 1, StockKind.SALE: -1, StockKind.UNLOAD: -1}


@dataclass(frozen=True)
class Actor:
    """Who asks: an API role and its subject, or a staff user acting as ``admin``."""

    role: str
    subject: str

    @property
    def label(self) -> str:
        return f"{self.role}:{self.subject}"


class LineData(TypedDict):
    sku: str
    name: str
    qty: int
    price: Decimal


# Couriers ----------------------------------------------------------------


def courier_create(
    *,
    courier_id: str,
    display_name: str,
    phone: str | None = None,
    is_active: bool = True,
    b24_user_id: str | None = None,
) -> Courier:
    courier = Courier(
        courier_id=courier_id, display_name=display_name, phone=phone, is_active=is_active, b24_user_id=b24_user_id
    )
    courier.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            courier.save(force_insert=True)
    except IntegrityError:
        if Courier.objects.filter(pk=courier_id).exists():
            raise CourierExists(courier_id) from None
        raise
    return courier


# Orders ------------------------------------------------------------------


def order_create(
    *,
    lines: Sequence[LineData],
    actor: Actor,
    id: str | None = None,
    total_amount: Decimal | None = None,
    **fields: Any,
) -> Order:
    """A NEW order with its lines; ``total_amount`` defaults to the sum of the lines and may not be below it (WW-03)."""
    order = Order(created_by=actor.label, **fields)
    if id:
        order.id = id
    built = _build_lines(order, lines)
    order.total_amount = _checked_total(total_amount, built)
    order.full_clean(exclude=["id"] if not id else None, validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            order.save(force_insert=True)
            OrderLine.objects.bulk_create(built)
            _log(order, None, S.NEW, actor)
            events.order_created(order)
    except IntegrityError:
        if Order.objects.filter(pk=order.id).exists():
            raise OrderExists(order.id) from None
        raise
    _cache_lines(order, built)
    return order


def order_update(
    *,
    order_id: str,
    actor: Actor,
    title: str | None = None,
    notes: str | None = None,
    lines: Sequence[LineData] | None = None,
    total_amount: Decimal | None = None,
) -> Order:
    """Edit a NEW order: title, notes, and the lines as a whole (the total follows unless given)."""
    with atomic():
        order = _locked_order(order_id)
        if order.status != S.NEW:
            raise OrderNotEditable(order.id, order.status)
        if title is not None:
            order.title = title
        if notes is not None:
            order.notes = notes or None
        built = None
        if lines is not None:
            built = _build_lines(order, lines)
            order.total_amount = _checked_total(total_amount, built)
        elif total_amount is not None:
            order.total_amount = _checked_total(total_amount, list(order.lines.all()))
        order.full_clean(validate_unique=False, validate_constraints=False)
        order.updated_at = timezone.now()
        order.save()
        if built is not None:
            order.lines.all().delete()
            OrderLine.objects.bulk_create(built)
    if built is not None:
        _cache_lines(order, built)
    return order


def order_assign(*, order_id: str, courier_id: str, actor: Actor, comment: str | None = None) -> Assignment:
    """NEW → ASSIGNED with a PENDING assignment for ``courier_id`` (WW-06)."""
    with atomic():
        order = _locked_order(order_id)
        courier = Courier.objects.filter(pk=courier_id).first()
        if courier is None:
            raise CourierNotFound(courier_id)
        if not courier.is_active:
            raise CourierInactive(courier_id)
        _check_move(order, S.ASSIGNED)
        assignment = Assignment.objects.create(order=order, courier=courier, comment=comment or None)
        order.courier = courier
        _move(order, S.ASSIGNED, actor, comment, extra_fields=["courier"])
        events.order_assigned(order, assignment)
    return assignment


def assignment_accept(*, assignment_id: str, actor: Actor) -> Assignment:
    """The assigned courier takes the order; it stays ASSIGNED until the courier starts (WW-06)."""
    with atomic():
        assignment = _locked_assignment(assignment_id, actor)
        if assignment.status == Assignment.Status.ACCEPTED:
            return assignment
        if assignment.status != Assignment.Status.PENDING:
            raise AssignmentClosed(assignment.pk, assignment.status)
        assignment.status = Assignment.Status.ACCEPTED
        assignment.updated_at = timezone.now()
        assignment.save(update_fields=["status", "updated_at"])
    return assignment


def assignment_decline(*, assignment_id: str, actor: Actor, reason: str) -> Assignment:
    """The assigned courier refuses: the assignment is DECLINED and the order ASSIGNED → DECLINED."""
    with atomic():
        assignment = _locked_assignment(assignment_id, actor)
        if assignment.status not in Assignment.OPEN:
            raise AssignmentClosed(assignment.pk, assignment.status)
        order = _locked_order(assignment.order_id)
        _move(order, S.DECLINED, actor, reason)
    assignment.refresh_from_db()
    return assignment


def order_change_status(
    *,
    order_id: str,
    status: str,
    actor: Actor,
    reason: str | None = None,
    paid_amount: Decimal | None = None,
) -> Order:
    """Move an order as WW-04 allows for ``actor``'s role; a courier acts only on its own orders.

    Raises :class:`OrderNotFound` (also for another courier's order),
    :class:`StatusNotForRole` and :class:`OrderTransitionRefused`; nothing
    changes when any is raised.
    """
    with atomic():
        order = _locked_order(order_id, courier_id=actor.subject if actor.role == "courier" else None, lines=True)
        if status not in ROLE_TARGETS.get(actor.role, ()):
            raise StatusNotForRole(actor.role, status)
        if status == S.DECLINED and not (reason or "").strip():
            raise ValidationError({"reason": "A courier declining an order says why."})
        if status == S.DONE:
            order.paid_amount = paid_amount if paid_amount is not None else Decimal("0")
            order.full_clean(validate_unique=False, validate_constraints=False)
        _move(order, status, actor, reason, extra_fields=["paid_amount"] if status == S.DONE else ())
    return order


def _move(order: Order, target: str, actor: Actor, reason: str | None, *, extra_fields: Sequence[str] = ()) -> None:
    """The one place an order's status changes: the check, the row, its assignment, the log and the metric."""
    source = order.status
    _check_move(order, target)
    order.status = target
    order.updated_at = timezone.now()
    fields = ["status", "updated_at", *extra_fields]
    if target == S.NEW:  # back to the pool: the next assignment picks a courier afresh
        order.courier = None
        order.task_id_b24 = None
        fields += ["courier", "task_id_b24"]
    order.save(update_fields=fields)
    _settle_assignment(order, target, reason)
    _log(order, source, target, actor, reason)
    if target != S.ASSIGNED:  # an assignment publishes its own, richer event
        events.order_status_changed(order, source, reason)
    WW_ORDER_TRANSITIONS.labels(**{"from": source, "to": target, "result": "ok"}).inc()


def _check_move(order: Order, target: str) -> None:
    if not ORDER_TRANSITIONS.allows(order.status, target):
        WW_ORDER_TRANSITIONS.labels(**{"from": order.status, "to": target, "result": "refused"}).inc()
        raise OrderTransitionRefused(order.id, order.status, target)


def _settle_assignment(order: Order, target: str, reason: str | None) -> None:
    """Keep the open assignment in step with the order's new status."""
    open_assignments = Assignment.objects.filter(order=order, status__in=Assignment.OPEN)
    now = timezone.now()
    if target == S.IN_TRANSIT:  # starting the delivery accepts a still pending offer
        open_assignments.filter(status=Assignment.Status.PENDING).update(
            status=Assignment.Status.ACCEPTED, updated_at=now
        )
    elif target == S.DECLINED:
        open_assignments.update(status=Assignment.Status.DECLINED, reason=reason, updated_at=now)
    elif target in (S.DONE, S.REJECTED):
        open_assignments.update(status=Assignment.Status.CLOSED, updated_at=now)


def _log(order: Order, source: str | None, target: str, actor: Actor, reason: str | None = None) -> None:
    OrderStatusLog.objects.create(
        order=order,
        from_status=source,
        to_status=target,
        actor=actor.label,
        reason=reason or None,
        request_id=current_request_id(),
        ts=order.updated_at,
    )


def _locked_order(order_id: str, *, courier_id: str | None = None, lines: bool = False) -> Order:
    """The order under a row lock; ``lines`` prefetches them for a caller that answers with the whole order."""
    rows = Order.objects.select_for_update()
    if lines:
        rows = rows.prefetch_related(Prefetch("lines", queryset=OrderLine.objects.order_by("id")))
    if courier_id is not None:
        rows = rows.filter(courier_id=courier_id)
    try:
        return rows.get(pk=order_id)
    except Order.DoesNotExist:
        raise OrderNotFound(order_id) from None


def _locked_assignment(assignment_id: str, actor: Actor) -> Assignment:
    rows = Assignment.objects.select_for_update().filter(courier_id=actor.subject)
    try:
        return rows.get(pk=assignment_id)
    except (Assignment.DoesNotExist, ValidationError, ValueError):
        raise AssignmentNotFound(assignment_id) from None


def _build_lines(order: Order, lines: Sequence[LineData]) -> list[OrderLine]:
    """Validate the lines; errors are keyed like the API body (``items[0].qty``)."""
    if not 1 <= len(lines) <= MAX_LINES:
        raise ValidationError({"items": f"An order has 1 to {MAX_LINES} lines."})
    built, errors = [], {}
    for index, line in enumerate(lines):
        row = OrderLine(order=order, **line)
        try:
            row.full_clean(exclude=["order"], validate_unique=False, validate_constraints=False)
        except ValidationError as error:
            errors.update({f"items[{index}].{field}": messages for field, messages in error.message_dict.items()})
        if not str(row.sku).strip():
            errors.setdefault(f"items[{index}].sku", []).append("Must not be blank.")
        built.append(row)
    if errors:
        raise ValidationError(errors)
    return built


def _checked_total(total_amount: Decimal | None, lines: Sequence[OrderLine]) -> Decimal:
    lines_sum = sum((line.qty * line.price for line in lines), Decimal("0")).quantize(Decimal("0.01"))
    if total_amount is None:
        return lines_sum
    if total_amount < lines_sum:
        raise ValidationError({"total_amount": f"Must not be below the sum of the lines ({lines_sum})."})
    return total_amount


def _cache_lines(order: Order, lines: list[OrderLine]) -> None:
    """What prefetch_related("lines") would leave, from the rows just written, so the caller can serialise."""
    cached = order.lines.get_queryset()
    cached._result_cache = lines
    # Django's prefetch bookkeeping, which the stubs leave out.
    cached._prefetch_done = True  # type: ignore[attr-defined]
    order._prefetched_objects_cache = {"lines": cached}  # type: ignore[attr-defined]


# Backpack stock ----------------------------------------------------------


class MovementLine(TypedDict):
    sku: str
    qty: int


def stock_move(
    *,
    courier_id: str,
    kind: str,
    actor: Actor,
    items: Sequence[MovementLine] = (),
    ref: str | None = None,
) -> list[StockMovement]:
    """Load, sell, take back or unload goods (WW-10…WW-12); one movement per SKU, all or nothing.

    A sale or unload of more than the courier holds raises
    :class:`InsufficientStock` (409) and changes nothing; the conditional
    ``UPDATE … WHERE qty >= n`` keeps stock non-negative when sales race.  An
    unload without items takes back everything the courier holds, both
    compartments (the end-of-shift document).
    """
    if not Courier.objects.filter(pk=courier_id).exists():
        raise CourierNotFound(courier_id)
    compartment = Compartment.RETURNS if kind == StockKind.RETURN_IN else Compartment.BACKPACK
    with atomic():
        if kind == StockKind.UNLOAD and not items:
            planned = _everything_held(courier_id)
        else:
            planned = [(line["sku"], compartment, line["qty"]) for line in _merged(items)]
        now = timezone.now()
        movements = []
        for sku, part, qty in planned:
            delta = MOVEMENT_SIGN[kind] * qty
            _apply(courier_id, sku, part, delta, now)
            movements.append(
                StockMovement(
                    courier_id=courier_id,
                    sku=sku,
                    qty_delta=delta,
                    kind=kind,
                    compartment=part,
                    ref=ref or None,
                    actor=actor.label,
                    ts=now,
                )
            )
        StockMovement.objects.bulk_create(movements)
        if movements:
            events.stock_moved(courier_id, kind, movements, ref or None)
    return movements


def _merged(items: Sequence[MovementLine]) -> list[MovementLine]:
    """One line per SKU (two lines of one SKU are one movement), in the order first seen."""
    totals: dict[str, int] = {}
    for line in items:
        totals[line["sku"]] = totals.get(line["sku"], 0) + line["qty"]
    return [{"sku": sku, "qty": qty} for sku, qty in totals.items()]


def _everything_held(courier_id: str) -> list[tuple[str, str, int]]:
    held = CourierStock.objects.select_for_update().filter(courier_id=courier_id).order_by("sku")
    planned: list[tuple[str, str, int]] = []
    for row in held:
        if row.qty:
            planned.append((row.sku, Compartment.BACKPACK, row.qty))
        if row.returned_qty:
            planned.append((row.sku, Compartment.RETURNS, row.returned_qty))
    return planned


def _apply(courier_id: str, sku: str, compartment: str, delta: int, now) -> None:
    column = "qty" if compartment == Compartment.BACKPACK else "returned_qty"
    rows = CourierStock.objects.filter(courier_id=courier_id, sku=sku)
    if delta < 0:
        # Conditional update: of racing sales only those the stock covers match a row.
        if rows.filter(**{f"{column}__gte": -delta}).update(**{column: F(column) + delta, "updated_at": now}):
            return
        held = rows.values_list(column, flat=True).first() or 0
        raise InsufficientStock(courier_id, sku, -delta, held)
    # Conditional too: a compartment never holds more than MAX_HELD (past PostgreSQL's integer the UPDATE is a 500).
    below_limit = rows.filter(**{f"{column}__lte": MAX_HELD - delta})
    if below_limit.update(**{column: F(column) + delta, "updated_at": now}):
        return
    try:
        with transaction.atomic():  # a savepoint: another load of the same new SKU may insert first
            CourierStock.objects.create(courier_id=courier_id, sku=sku, updated_at=now, **{column: delta})
        return
    except IntegrityError:
        if below_limit.update(**{column: F(column) + delta, "updated_at": now}):
            return
    held = rows.values_list(column, flat=True).first() or 0
    raise StockLimitExceeded(courier_id, sku, delta, held, MAX_HELD)


# Bitrix24 ----------------------------------------------------------------


def order_task_linked(*, key: str, task_id: str, **_: Any) -> None:
    """Store the courier's Bitrix24 task on its order (BX-01), unless the order has moved to another assignment.

    Connected to ``integrations.signals.bitrix24_task_linked``; keys that are
    not an order's assignment are someone else's and are left alone.
    """
    parsed = events.order_from_task_key(key)
    if parsed is None:
        return
    order_id, assignment_id = parsed
    current = Assignment.objects.filter(pk=assignment_id, order_id=order_id, status__in=Assignment.OPEN)
    Order.objects.filter(pk=order_id, courier_id__in=current.values("courier_id")).update(task_id_b24=task_id)
