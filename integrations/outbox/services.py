"""Writing, delivering and requeueing outbox events (EVT-01, EVT-03, EVT-04).

- :func:`event_publish` — inside the caller's transaction: the event row, and
  after the commit a django-q2 task that delivers it at once (EVT-05);
- :func:`event_deliver` — one event to every subscriber that has not yet
  accepted it; sent, or the next rung of the ladder, or dead;
- :func:`events_deliver_due` — the sweeper: every due pending event;
- :func:`event_requeue` — a dead or waiting event back to pending now.

Delivery claims an event by pushing its ``next_attempt_at`` a lease ahead
under ``SELECT … FOR UPDATE SKIP LOCKED`` (PostgreSQL), then talks to the
subscribers outside any transaction.  A worker that dies mid-delivery leaves
the event pending; once the lease ends the sweeper delivers it again (at
least once; receivers dedup by ``event_id``).
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from integrations.outbox.models import EventStatus, EventType, OutboxEvent, WebhookSubscription
from integrations.outbox.subscribers import (
    Bitrix24TaskSubscriber,
    DeliveryFailed,
    Subscriber,
    WebhookSubscriber,
    parse_b24_task,
)
from integrations.outbox.webhooks import WebhookClient
from mastermobile.errors import ConflictError
from mastermobile.observability.metrics import EVENTS_DELIVERED, EVENTS_DLQ
from mastermobile.transitions import TransitionTable

logger = logging.getLogger(__name__)

DELIVER_TASK = "integrations.tasks.outbox_deliver"
# EVT-04: the wait after the 1st, 2nd… failed attempt; the last rung repeats.
LADDER = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=3),
    timedelta(hours=12),
)
JITTER = 0.1
DEAD_AFTER = timedelta(hours=24)
# How long a claimed event is left to its worker before the sweeper may take it again.
LEASE = timedelta(minutes=5)
SWEEP_LIMIT = 200
LAST_ERROR_LIMIT = 2000

TRANSITIONS = TransitionTable(
    "outbox_event",
    {
        EventStatus.PENDING: {EventStatus.SENT, EventStatus.DEAD, EventStatus.PENDING},
        EventStatus.DEAD: {EventStatus.PENDING},
        EventStatus.SENT: set(),
    },
)


class OutsideTransaction(RuntimeError):
    """:func:`event_publish` was called outside ``transaction.atomic``: the event would not share the change's fate."""


class EventNotRequeueable(ConflictError):
    """Only pending and dead events go back to the queue."""


def event_publish(*, type: str, aggregate: str, aggregate_id: str, payload: dict[str, Any]) -> OutboxEvent:
    """Write an event in the caller's transaction; it is delivered iff that transaction commits (EVT-01).

    ``type`` is one of :class:`EventType`.  A ``payload["b24_task"]`` of
    ``{"op": "add"|"update"|"complete", "key": "order:<id>", "fields": {...}}``
    is carried out in Bitrix24.  Raises :class:`OutsideTransaction` when no
    transaction is open and ValueError for an unknown type or a malformed
    ``b24_task``.
    """
    if not transaction.get_connection().in_atomic_block:
        raise OutsideTransaction("event_publish must run inside the transaction of the change it reports")
    if type not in EventType.values:
        raise ValueError(f"unknown event type {type!r}")
    if "b24_task" in payload:
        parse_b24_task(payload["b24_task"])
    event = OutboxEvent.objects.create(type=type, aggregate=aggregate, aggregate_id=str(aggregate_id), payload=payload)
    if settings.Q_CLUSTER.get("orm"):
        # The ORM broker's queue is a table in this database: the task row commits or rolls back with the
        # event, and enqueuing inside the transaction spares the broker's reconnect of an autocommit call.
        _enqueue(event.event_id)
    else:
        transaction.on_commit(lambda: _enqueue(event.event_id))
    return event


def _enqueue(event_id: uuid.UUID) -> None:
    from django_q.tasks import async_task

    # The event id travels as the argument; a name per event would only widen the queue pages.
    async_task(DELIVER_TASK, str(event_id), task_name="outbox.deliver")


def retry_delay(attempts: int, *, rand: Callable[[], float] = random.random) -> timedelta:
    """The wait after ``attempts`` failed attempts: the ladder rung, ±10 % (``rand`` in [0, 1))."""
    rung = LADDER[min(max(attempts, 1), len(LADDER)) - 1]
    return rung * (1 + JITTER * (2 * rand() - 1))


def default_subscribers() -> list[Subscriber]:
    """Every active webhook subscription, then Bitrix24 tasks, built from the project settings."""
    from integrations.bitrix24.factory import client_from_config

    config = settings.APP_CONFIG
    client = WebhookClient(timeout=config.request_timeout_s)
    subscribers: list[Subscriber] = [
        WebhookSubscriber(subscription, client) for subscription in WebhookSubscription.objects.filter(is_active=True)
    ]
    # One attempt per delivery: the outbox ladder does the retrying, no worker sleeps through backoffs.
    subscribers.append(Bitrix24TaskSubscriber(lambda: client_from_config(settings.APP_CONFIG, max_attempts=1)))
    return subscribers


def _claim(ids: Iterable[uuid.UUID] | None, now: datetime, limit: int) -> list[uuid.UUID]:
    with transaction.atomic():
        due = OutboxEvent.objects.select_for_update(skip_locked=True).filter(
            status=EventStatus.PENDING, next_attempt_at__lte=now
        )
        if ids is not None:
            due = due.filter(pk__in=list(ids))
        claimed = list(due.order_by("next_attempt_at").values_list("pk", flat=True)[:limit])
        # The first claim is the first delivery attempt (EVT-05 measures up to it); later claims keep it.
        OutboxEvent.objects.filter(pk__in=claimed).update(
            next_attempt_at=now + LEASE, first_attempt_at=Coalesce("first_attempt_at", Value(now))
        )
    return claimed


def event_deliver(
    event_id: uuid.UUID | str,
    *,
    now: datetime | None = None,
    subscribers: Sequence[Subscriber] | None = None,
    rand: Callable[[], float] = random.random,
) -> str | None:
    """Deliver one due pending event; its new status, or None when it was not due or another worker has it."""
    now = now or timezone.now()
    if not _claim([uuid.UUID(str(event_id))], now, 1):
        return None
    return _deliver_claimed(OutboxEvent.objects.get(pk=event_id), now, subscribers, rand)


def events_deliver_due(
    *,
    now: datetime | None = None,
    subscribers: Sequence[Subscriber] | None = None,
    rand: Callable[[], float] = random.random,
    limit: int = SWEEP_LIMIT,
) -> dict[str, int]:
    """The sweeper: every pending event whose attempt is due, oldest first; how many ended in each status."""
    now = now or timezone.now()
    outcomes: dict[str, int] = {}
    for event_id in _claim(None, now, limit):
        status = _deliver_claimed(OutboxEvent.objects.get(pk=event_id), now, subscribers, rand)
        outcomes[status] = outcomes.get(status, 0) + 1
    return outcomes


def _deliver_claimed(
    event: OutboxEvent, now: datetime, subscribers: Sequence[Subscriber] | None, rand: Callable[[], float]
) -> str:
    if subscribers is None:
        subscribers = default_subscribers()
    errors = []
    for subscriber in subscribers:
        if subscriber.name in event.delivered_to or not subscriber.wants(event):
            continue
        try:
            subscriber.deliver(event)
        except DeliveryFailed as error:
            EVENTS_DELIVERED.labels(subscriber=_metric_name(subscriber), result="failure").inc()
            errors.append(str(error))
        else:
            EVENTS_DELIVERED.labels(subscriber=_metric_name(subscriber), result="success").inc()
    attempts = event.attempts + 1
    if not errors:
        TRANSITIONS.move(OutboxEvent, event.pk, EventStatus.SENT, attempts=attempts, sent_at=now, last_error="")
        return EventStatus.SENT
    last_error = "\n".join(errors)[:LAST_ERROR_LIMIT]
    deadline = event.created_at + DEAD_AFTER
    if now >= deadline:
        TRANSITIONS.move(OutboxEvent, event.pk, EventStatus.DEAD, attempts=attempts, last_error=last_error)
        EVENTS_DLQ.labels(event_type=event.type).inc()
        logger.warning(
            "outbox.event_dead",
            extra={"event": "outbox.event_dead", "event_id": str(event.event_id), "type": event.type},
        )
        return EventStatus.DEAD
    # The last attempt falls on the 24-hour mark, so an event is never declared dead before it.
    next_attempt_at = min(now + retry_delay(attempts, rand=rand), deadline)
    TRANSITIONS.move(
        OutboxEvent,
        event.pk,
        EventStatus.PENDING,
        attempts=attempts,
        next_attempt_at=next_attempt_at,
        last_error=last_error,
    )
    return EventStatus.PENDING


def _metric_name(subscriber: Subscriber) -> str:
    # One series per kind, not per subscription row.
    return subscriber.name.split(":", 1)[0]


def event_requeue(*, event_id: uuid.UUID | str, now: datetime | None = None) -> OutboxEvent:
    """A dead or pending event becomes pending and due now, with its attempts reset; its age still counts from creation.

    Because the 24-hour limit counts from ``created_at``, a requeued old event
    gets one more attempt and is dead again if that fails.  Raises
    :class:`EventNotRequeueable` for a sent event.
    """
    now = now or timezone.now()
    moved = TRANSITIONS.move(
        OutboxEvent,
        event_id,
        EventStatus.PENDING,
        only_from=[EventStatus.PENDING, EventStatus.DEAD],
        attempts=0,
        next_attempt_at=now,
    )
    if not moved:
        raise EventNotRequeueable(f"Event {event_id} is already sent and cannot be requeued.")
    transaction.on_commit(lambda: _enqueue(uuid.UUID(str(event_id))))
    return OutboxEvent.objects.get(pk=event_id)
