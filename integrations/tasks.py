"""django-q2 tasks of the integrations app."""

from __future__ import annotations

from integrations.outbox.services import event_deliver, events_deliver_due


def outbox_deliver(event_id: str) -> str | None:
    """Deliver one event right after its transaction committed (EVT-05); its new status."""
    return event_deliver(event_id)


def outbox_sweep() -> dict[str, int]:
    """Every minute: deliver the events whose next attempt is due (EVT-04), and those a dead worker left."""
    return events_deliver_due()
