"""Building events and subscribers for the outbox tests."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from prometheus_client import REGISTRY

from integrations.outbox.models import OutboxEvent, WebhookSubscription
from integrations.outbox.services import event_publish
from integrations.outbox.subscribers import WebhookSubscriber
from integrations.outbox.webhooks import WebhookClient


def publish(
    type: str = "order.created", aggregate_id: str = "42", payload: dict[str, Any] | None = None
) -> OutboxEvent:
    with transaction.atomic():
        return event_publish(type=type, aggregate="order", aggregate_id=aggregate_id, payload=payload or {"id": 42})


def webhook_subscribers(*subscriptions: WebhookSubscription) -> list[WebhookSubscriber]:
    client = WebhookClient(timeout=0.5)
    return [WebhookSubscriber(subscription, client) for subscription in subscriptions]


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0
