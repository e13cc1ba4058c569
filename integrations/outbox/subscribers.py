"""Who receives outbox events: one small class per kind behind :class:`Subscriber` (as healthchecks.io's transports).

A subscriber's :meth:`~Subscriber.deliver` either returns (the event is
accepted and recorded for that subscriber) or raises :class:`DeliveryFailed`;
the outbox then retries the event on its ladder, skipping the subscribers
that already accepted it.  ``deliver`` records its own success in
``event.delivered_to`` inside the transaction it opens, so anything it must
store with the success (a Bitrix24 task link) commits together with it.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from django.db import transaction

from integrations.bitrix24.client import Bitrix24Client
from integrations.bitrix24.errors import Bitrix24Error
from integrations.outbox.models import Bitrix24TaskLink, OutboxEvent, WebhookSubscription
from integrations.outbox.signing import EVENT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature
from integrations.outbox.webhooks import WebhookClient, WebhookError
from integrations.signals import bitrix24_task_linked

B24_TASK_OPS = ("add", "update", "complete")


class DeliveryFailed(Exception):
    """This subscriber did not accept the event now; the outbox tries again later."""


class Subscriber(ABC):
    """One receiver of events; ``name`` is what ``OutboxEvent.delivered_to`` records."""

    name: str

    @abstractmethod
    def wants(self, event: OutboxEvent) -> bool:
        """Whether this event is for this subscriber at all."""

    @abstractmethod
    def deliver(self, event: OutboxEvent) -> None:
        """Hand the event over and record the success; raise :class:`DeliveryFailed` otherwise."""


def record_delivered(event: OutboxEvent, name: str) -> None:
    """Add ``name`` to the event's ``delivered_to`` (call inside the transaction of the delivery)."""
    row = OutboxEvent.objects.select_for_update().get(pk=event.pk)
    if name not in row.delivered_to:
        row.delivered_to = [*row.delivered_to, name]
        OutboxEvent.objects.filter(pk=event.pk).update(delivered_to=row.delivered_to)
    event.delivered_to = row.delivered_to


def webhook_body(event: OutboxEvent) -> bytes:
    """The JSON every webhook receives; consumers dedup by ``event_id``."""
    document = {
        "event_id": str(event.event_id),
        "type": event.type,
        "aggregate": event.aggregate,
        "aggregate_id": event.aggregate_id,
        "payload": event.payload,
        "created_at": event.created_at.isoformat(),
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


class WebhookSubscriber(Subscriber):
    """A signed POST to one :class:`WebhookSubscription` (EVT-03, signed as BX-02)."""

    def __init__(
        self, subscription: WebhookSubscription, client: WebhookClient, clock: Callable[[], float] = time.time
    ):
        self.subscription = subscription
        self.client = client
        self.clock = clock
        self.name = f"webhook:{subscription.pk}"

    def wants(self, event: OutboxEvent) -> bool:
        return self.subscription.wants(event.type)

    def deliver(self, event: OutboxEvent) -> None:
        body = webhook_body(event)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature(self.subscription.secret, body),
            TIMESTAMP_HEADER: str(int(self.clock())),
            EVENT_ID_HEADER: str(event.event_id),
        }
        try:
            self.client.post(self.subscription.url, body, headers, resource_ref=str(event.event_id))
        except WebhookError as error:
            raise DeliveryFailed(f"{self.subscription.name}: {error}") from error
        with transaction.atomic():
            record_delivered(event, self.name)


class Bitrix24TaskSubscriber(Subscriber):
    """The ``b24_task`` operation an event carries, through the shared Bitrix24 client (BX-01, BX-04).

    ``add`` never makes a second task for one key: the link is stored in the
    transaction that records the delivery, and when no link is stored the task
    is first looked up by its external id (``XML_ID`` = key), which covers a
    crash between Bitrix24's answer and our commit.  ``update``/``complete``
    of a key without a link wait for the ``add`` (retried on the ladder).
    """

    name = "b24_task"

    def __init__(self, client_factory: Callable[[], Bitrix24Client]):
        self.client_factory = client_factory

    def wants(self, event: OutboxEvent) -> bool:
        return isinstance(event.payload, dict) and "b24_task" in event.payload

    def deliver(self, event: OutboxEvent) -> None:
        try:
            op, key, fields = parse_b24_task(event.payload["b24_task"])
        except ValueError as error:
            raise DeliveryFailed(str(error)) from error
        client = self.client_factory()
        link = Bitrix24TaskLink.objects.filter(key=key).first()
        try:
            if op == "add":
                task_id = link.task_id if link else self._add(client, key, fields)
            elif link is None:
                raise DeliveryFailed(f"b24_task {op}: no Bitrix24 task linked to {key} yet")
            elif op == "update":
                task_id = link.task_id
                client.task_update(task_id, fields)
            else:
                task_id = link.task_id
                client.task_complete(task_id)
        except Bitrix24Error as error:
            raise DeliveryFailed(f"b24_task {op} {key}: {error}") from error
        created = False
        with transaction.atomic():
            if link is None:
                link, created = Bitrix24TaskLink.objects.get_or_create(key=key, defaults={"task_id": task_id})
            record_delivered(event, self.name)
            if created:
                transaction.on_commit(
                    lambda: bitrix24_task_linked.send(sender=Bitrix24TaskLink, key=key, task_id=task_id)
                )

    @staticmethod
    def _add(client: Bitrix24Client, key: str, fields: dict[str, Any]) -> str:
        existing = client.task_find_by_xml_id(key)
        if existing:
            return existing
        return client.task_add({**fields, "XML_ID": key})


def parse_b24_task(operation: Any) -> tuple[str, str, dict[str, Any]]:
    """``(op, key, fields)`` of a payload's ``b24_task``; ValueError when it is not one."""
    if not isinstance(operation, dict):
        raise ValueError("b24_task must be an object with op, key and fields")
    op, key, fields = operation.get("op"), operation.get("key"), operation.get("fields") or {}
    if op not in B24_TASK_OPS or not isinstance(key, str) or not key or not isinstance(fields, dict):
        raise ValueError(f"b24_task needs op in {', '.join(B24_TASK_OPS)}, a non-empty key and fields as an object")
    if len(key) > 160:
        raise ValueError("b24_task key is longer than 160 characters")
    return op, key, fields
