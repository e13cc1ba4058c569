"""Receiving verified inbound Bitrix24 webhooks (BX-02): stored once per event id."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from integrations.outbox.models import InboundWebhookEvent


def inbound_webhook_receive(*, event_id: str, payload: dict[str, Any]) -> tuple[InboundWebhookEvent, bool]:
    """Store a verified webhook; ``(row, created)`` where ``created`` is False for a replay of a stored event id."""
    try:
        with transaction.atomic():
            return InboundWebhookEvent.objects.create(event_id=event_id, payload=payload), True
    except IntegrityError:
        return InboundWebhookEvent.objects.get(event_id=event_id), False
