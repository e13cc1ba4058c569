"""Outbox rows, webhook subscriptions, inbound webhook dedup and Bitrix24 task links (EVT-01, BX-01, BX-02)."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class EventType(models.TextChoices):
    ORDER_CREATED = "order.created", _("Order created")
    ORDER_ASSIGNED = "order.assigned", _("Order assigned")
    ORDER_STATUS_CHANGED = "order.status_changed", _("Order status changed")
    RETURN_CREATED = "return.created", _("Return created")
    RETURN_READY = "return.ready", _("Return ready")
    RETURN_ACCEPTED = "return.accepted", _("Return accepted")
    RETURN_REJECTED = "return.rejected", _("Return rejected")
    STOCK_MOVED = "stock.moved", _("Stock moved")
    CALL_EXPORT_COMPLETED = "call_export.completed", _("Call export completed")


class EventStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    DEAD = "dead", _("Dead")


class OutboxEvent(models.Model):
    """One integration event, written in the transaction of the change it describes (EVT-01).

    ``delivered_to`` names the subscribers that already accepted the event, so
    a retry after a partial failure sends only to the others.
    """

    Type = EventType
    Status = EventStatus

    event_id = models.UUIDField(_("event id"), primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(_("type"), max_length=32, choices=Type.choices)
    aggregate = models.CharField(_("aggregate"), max_length=32)
    aggregate_id = models.CharField(_("aggregate id"), max_length=128)
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now)
    last_error = models.TextField(_("last error"), blank=True, default="")
    first_attempt_at = models.DateTimeField(
        _("first attempt at"),
        null=True,
        blank=True,
        help_text=_("When a worker first claimed the event for delivery; kept through retries and requeues."),
    )
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    delivered_to = models.JSONField(
        _("delivered to"), default=list, blank=True, help_text=_("Subscribers that already accepted this event.")
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("integration event")
        verbose_name_plural = _("integration events")
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="outboxevent_due"),
            models.Index(fields=["aggregate", "aggregate_id"], name="outboxevent_aggregate"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(attempts__gte=0), name="outboxevent_attempts_non_negative"),
            models.CheckConstraint(condition=models.Q(status__in=EventStatus.values), name="outboxevent_status_valid"),
            models.CheckConstraint(condition=models.Q(type__in=EventType.values), name="outboxevent_type_valid"),
            models.CheckConstraint(
                condition=~models.Q(status="sent") | models.Q(sent_at__isnull=False), name="outboxevent_sent_has_time"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.aggregate}:{self.aggregate_id} ({self.status})"


class WebhookSubscription(models.Model):
    """An outbound webhook configured by staff: every matching event is POSTed to ``url``, signed with ``secret``."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    url = models.URLField(_("URL"), max_length=500)
    secret = models.CharField(_("secret"), max_length=200, help_text=_("Key of the HMAC-SHA256 signature."))
    event_types = models.JSONField(
        _("event types"), default=list, blank=True, help_text=_("Types to send; empty means every type.")
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")

    def __str__(self) -> str:
        return self.name

    def wants(self, event_type: str) -> bool:
        return self.is_active and (not self.event_types or event_type in self.event_types)


class InboundWebhookEvent(models.Model):
    """One verified inbound Bitrix24 webhook; the unique ``event_id`` makes replays no-ops (BX-02)."""

    event_id = models.CharField(_("event id"), max_length=128, unique=True)
    received_at = models.DateTimeField(_("received at"), default=timezone.now, db_index=True)
    payload = models.JSONField(_("payload"), default=dict)

    class Meta:
        ordering = ["-received_at"]
        verbose_name = _("inbound webhook")
        verbose_name_plural = _("inbound webhooks")

    def __str__(self) -> str:
        return self.event_id


class Bitrix24TaskLink(models.Model):
    """Which Bitrix24 task stands for one of our aggregates (``key`` such as ``order:42``, BX-01)."""

    key = models.CharField(_("key"), max_length=160, unique=True)
    task_id = models.CharField(_("Bitrix24 task"), max_length=32)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("Bitrix24 task link")
        verbose_name_plural = _("Bitrix24 task links")

    def __str__(self) -> str:
        return f"{self.key} → {self.task_id}"
