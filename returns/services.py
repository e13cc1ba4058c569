"""Every write to returns: the API views and the admin call these functions (RET-33)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any, TypedDict

from django.core.exceptions import ValidationError
from django.db import transaction

from couriers.selectors import order_delivered_quantities
from mastermobile.db import atomic
from mastermobile.history import copy_to_history
from returns import events
from returns.exceptions import InvalidTransition, ReturnExceedsSale, ReturnNotEditable, ReturnNotFound
from returns.models import MAX_LINES, MAX_PHOTOS, Return, ReturnLine

logger = logging.getLogger(__name__)


class LineData(TypedDict, total=False):
    sku: str  # required
    qty: int  # required
    quality: str  # required
    reason_code: str  # required
    reason_note: str | None
    photos: list[str] | None
    imei: str | None
    serial: str | None


def return_create(
    *,
    source: str,
    courier_id: str,
    items: Sequence[LineData],
    created_by: str,
    order_id_1c: str | None = None,
    manager_id: str | None = None,
    comment: str | None = None,
) -> Return:
    """Create a pending return with lines ``line_1…line_N`` in request order.

    ``return_obj.lines.all()`` on the result answers from memory: the caller can
    serialize the return without reading it back.
    """
    return_obj = Return(
        source=source,
        courier_id=courier_id,
        order_id_1c=order_id_1c,
        manager_id=manager_id,
        comment=comment,
        created_by=created_by,
    )
    _validate_header(return_obj)
    lines = _build_lines(return_obj, items)
    return_obj._change_reason = f"created by {created_by}"
    with atomic():
        _check_against_sale(return_obj, lines)
        # simple_history adds the method to every model it tracks; the history row is copied below.
        return_obj.save_without_historical_record(force_insert=True)  # type: ignore[attr-defined]
        copy_to_history(
            Return,
            field="return_id",
            value=return_obj.return_id,
            history_type="+",
            reason=return_obj._change_reason,
            on_behalf_of=return_obj,
        )
        _save_lines(return_obj, lines, reason=return_obj._change_reason)
        events.return_created(return_obj, lines)
    return return_obj


def return_replace(
    *,
    return_id: uuid.UUID | str,
    source: str,
    courier_id: str,
    items: Sequence[LineData],
    actor: str,
    order_id_1c: str | None = None,
    manager_id: str | None = None,
    comment: str | None = None,
) -> Return:
    """Replace the header and all lines (new line ids) of a pending return (RET-13).

    As with :func:`return_create`, ``lines.all()`` on the result needs no query.
    """
    with atomic():
        return_obj = _locked(return_id)
        if return_obj.status != Return.Status.PENDING:
            raise ReturnNotEditable(return_obj.return_id, return_obj.status)
        return_obj.source = source
        return_obj.courier_id = courier_id
        return_obj.order_id_1c = order_id_1c
        return_obj.manager_id = manager_id
        return_obj.comment = comment
        _validate_header(return_obj)
        lines = _build_lines(return_obj, items)
        _check_against_sale(return_obj, lines)
        return_obj._change_reason = f"replaced by {actor}"
        return_obj.save()
        return_obj.lines.all().delete()
        _save_lines(return_obj, lines, reason=return_obj._change_reason)
    return return_obj


def return_set_status(*, return_id: uuid.UUID | str, status: str, actor: str, reason: str | None = None) -> Return:
    """Move a return to ``status`` if ``Return.TRANSITIONS`` allows it (RET-04); the one way a status changes.

    The check runs under a row lock, so two callers racing for one return see
    each other's result.  Asking for the status the return already has is a
    no-op: nothing is written, no history row is added, and a retrying client
    (1C, a second click in the admin) gets the return as it is.  The history row
    keeps who (``actor``) and why (``reason``) in its change reason.  Raises
    :class:`ReturnNotFound` and :class:`InvalidTransition` (naming both statuses).
    """
    with atomic():
        return_obj = _locked(return_id)
        previous = return_obj.status
        if previous == status:
            return return_obj
        if not return_obj.can_become(status):
            raise InvalidTransition(return_obj.return_id, previous, status)
        return_obj.status = status
        return_obj._change_reason = f"{status} by {actor}: {reason}" if reason else f"{status} by {actor}"
        return_obj.save(update_fields=["status", "updated_at"])
        _status_changed(return_obj, previous=previous, actor=actor, reason=reason)
    return return_obj


def return_cancel(*, return_id: uuid.UUID | str, actor: str) -> Return:
    """Cancel logically (RET-14); cancelling a cancelled return is a no-op."""
    return return_set_status(return_id=return_id, status=Return.Status.CANCELLED, actor=actor)


def _status_changed(return_obj: Return, *, previous: str, actor: str, reason: str | None) -> None:
    """Called inside the transaction of every status change, after the row is saved.

    The ``return.accepted`` / ``return.rejected`` outbox events (C1-04) commit or
    roll back with the change; the change is logged once it has committed.
    """
    events.return_status_changed(return_obj, previous=previous, reason=reason)
    fields = {
        "event": "return.status_changed",
        "return_id": str(return_obj.return_id),
        "from_status": previous,
        "to_status": return_obj.status,
        "actor": actor,
        "has_reason": bool(reason),
    }
    transaction.on_commit(lambda: logger.info("return.status_changed", extra=fields))


def _check_against_sale(return_obj: Return, lines: Sequence[ReturnLine]) -> None:
    """C1-03: a return of an order MasterMobile delivered may not exceed what it delivered, minus earlier returns.

    Returns of orders MasterMobile does not know (sold in a shop, delivered
    before the Walking Warehouse) are taken as they are.  The order row is
    locked, so two returns of one order racing each other are checked one
    after the other.
    """
    if not return_obj.order_id_1c:
        return
    delivered = order_delivered_quantities(order_ref=return_obj.order_id_1c, lock=True)
    if delivered is None:
        return
    asked: dict[str, int] = {}
    for line in lines:
        asked[line.sku] = asked.get(line.sku, 0) + line.qty
    earlier = (
        ReturnLine.objects.filter(
            return_obj__order_id_1c=return_obj.order_id_1c,
            return_obj__status__in=[Return.Status.PENDING, Return.Status.ACCEPTED],
            sku__in=list(asked),
        )
        .exclude(return_obj=return_obj.pk)
        .values_list("sku", "qty")
    )
    returned: dict[str, int] = {}
    for sku, qty in earlier:
        returned[sku] = returned.get(sku, 0) + qty
    over = {
        sku: (qty, delivered.get(sku, 0) - returned.get(sku, 0))
        for sku, qty in asked.items()
        if qty > delivered.get(sku, 0) - returned.get(sku, 0)
    }
    if over:
        raise ReturnExceedsSale(return_obj.order_id_1c, over)


def _locked(return_id: uuid.UUID | str) -> Return:
    try:
        return Return.objects.select_for_update().get(return_id=return_id)
    except (Return.DoesNotExist, ValidationError, ValueError):
        raise ReturnNotFound(return_id) from None


def _validate_header(return_obj: Return) -> None:
    return_obj.full_clean(exclude=["return_id"], validate_constraints=False)
    if not return_obj.courier_id.strip():
        raise ValidationError({"courier_id": "Must not be blank."})


def _build_lines(return_obj: Return, items: Sequence[LineData]) -> list[ReturnLine]:
    """Validate and number the lines; raise ValidationError keyed like the API (``items[0].qty``)."""
    if not 1 <= len(items) <= MAX_LINES:
        raise ValidationError({"items": f"A return has 1 to {MAX_LINES} lines."})
    lines = []
    errors: dict[str, Any] = {}
    for index, item in enumerate(items):
        line = ReturnLine(return_obj=return_obj, line_id=f"line_{index + 1}", **item)
        for field, messages in _line_errors(line).items():
            errors[f"items[{index}].{field}"] = messages
        lines.append(line)
    if errors:
        raise ValidationError(errors)
    return lines


def _line_errors(line: ReturnLine) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    try:
        line.full_clean(exclude=["return_obj"], validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        errors.update(error.message_dict)
    for field in ("sku", "reason_code"):
        value = getattr(line, field)
        if isinstance(value, str) and value and not value.strip():
            errors.setdefault(field, []).append("Must not be blank.")
    if line.photos is not None and (not isinstance(line.photos, list) or len(line.photos) > MAX_PHOTOS):
        errors.setdefault("photos", []).append(f"At most {MAX_PHOTOS} photo ids.")
    return errors


def _save_lines(return_obj: Return, lines: list[ReturnLine], *, reason: str) -> None:
    ReturnLine.objects.bulk_create(lines)
    copy_to_history(
        ReturnLine, field="return_obj", value=return_obj.pk, history_type="+", reason=reason, on_behalf_of=return_obj
    )
    # What prefetch_related("lines") would leave behind, filled from the rows
    # just written (same values, same order by id) instead of a second SELECT.
    cached = return_obj.lines.get_queryset()
    cached._result_cache = lines
    # Django's prefetch bookkeeping, which the stubs leave out.
    cached._prefetch_done = True  # type: ignore[attr-defined]
    return_obj._prefetched_objects_cache = {"lines": cached}  # type: ignore[attr-defined]
