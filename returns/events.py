"""Outbox events of returns (EVT-02) and the follow-up task of a rejected defect return (C1-04).

Called by :mod:`returns.services` inside the transaction of the change, so an
event exists iff the change committed.
"""

from __future__ import annotations

from integrations.outbox.models import EventType
from integrations.outbox.services import event_publish
from mastermobile.api.datetimes import format_rfc3339
from returns.models import Courier, Return, ReturnLine

STATUS_EVENTS: dict[str, str] = {
    Return.Status.ACCEPTED: EventType.RETURN_ACCEPTED,
    Return.Status.REJECTED: EventType.RETURN_REJECTED,
}


def return_summary(return_obj: Return, lines: list[ReturnLine]) -> dict:
    return {
        "return_id": str(return_obj.return_id),
        "status": return_obj.status,
        "courier_id": return_obj.courier_id,
        "order_id_1c": return_obj.order_id_1c,
        "updated_at": format_rfc3339(return_obj.updated_at),
        "lines": [{"sku": line.sku, "qty": line.qty, "quality": line.quality} for line in lines],
    }


def return_created(return_obj: Return, lines: list[ReturnLine]) -> None:
    event_publish(
        type=EventType.RETURN_CREATED,
        aggregate="return",
        aggregate_id=str(return_obj.return_id),
        payload=return_summary(return_obj, lines),
    )


def return_status_changed(return_obj: Return, *, previous: str, reason: str | None) -> None:
    """``return.accepted`` / ``return.rejected``; a rejected return with defects asks the courier to take them back."""
    event_type = STATUS_EVENTS.get(return_obj.status)
    if event_type is None:
        return
    lines = list(return_obj.lines.order_by("id"))
    payload = {**return_summary(return_obj, lines), "from_status": previous, "reason": reason}
    defects = [line for line in lines if line.quality == ReturnLine.Quality.DEFECT]
    responsible = Courier.objects.filter(pk=return_obj.courier_id).values_list("b24_user_id", flat=True).first()
    if event_type == EventType.RETURN_REJECTED and defects and responsible:
        goods = "\n".join(f"{line.sku} × {line.qty}" for line in defects)
        payload["b24_task"] = {
            "op": "add",
            "key": f"return:{return_obj.return_id}",
            "fields": {
                "TITLE": f"Вернуть товар покупателю: возврат {return_obj.short_id}",
                "DESCRIPTION": (
                    f"Возврат отклонён{': ' + reason if reason else ''}.\n"
                    f"Заказ 1С: {return_obj.order_id_1c or '—'}\nВернуть покупателю:\n{goods}"
                ),
                "RESPONSIBLE_ID": responsible,
            },
        }
    event_publish(type=event_type, aggregate="return", aggregate_id=str(return_obj.return_id), payload=payload)
