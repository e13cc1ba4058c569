"""Records of traffic with external systems (RET-08)."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, models, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

REQUEST_BODY_LIMIT = 64 * 1024


class IntegrationLog(models.Model):
    """One inbound API write or one outbound call to 1C, Bitrix24, OpenAI, the warehouse or a webhook subscriber."""

    class Direction(models.TextChoices):
        INBOUND = "inbound", _("Inbound")
        OUTBOUND = "outbound", _("Outbound")

    class System(models.TextChoices):
        ONEC = "1c", _("1C")
        BITRIX24 = "b24", _("Bitrix24")
        WAREHOUSE = "warehouse", _("Walking Warehouse")
        OPENAI = "openai", _("OpenAI")
        WEBHOOK = "webhook", _("Outbound webhook")

    class Status(models.TextChoices):
        SUCCESS = "success", _("Success")
        ERROR = "error", _("Error")
        RETRY = "retry", _("Retry")

    ts = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    direction = models.CharField(_("direction"), max_length=16, choices=Direction.choices)
    external_system = models.CharField(_("system"), max_length=16, choices=System.choices)
    endpoint = models.CharField(_("endpoint"), max_length=500, help_text=_("Path or method; secrets masked."))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    status_code = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    correlation_id = models.CharField(_("correlation id"), max_length=128, null=True, blank=True, db_index=True)
    resource_ref = models.CharField(_("resource"), max_length=128, null=True, blank=True, db_index=True)
    request = models.JSONField(_("request"), null=True, blank=True)
    response = models.JSONField(_("response"), null=True, blank=True)
    error_code = models.CharField(_("error code"), max_length=128, null=True, blank=True)
    retry_count = models.PositiveIntegerField(_("retries"), null=True, blank=True)

    class Meta:
        ordering = ["-ts", "-id"]
        verbose_name = _("integration log entry")
        verbose_name_plural = _("integration log")
        indexes = [
            models.Index(fields=["external_system", "status", "-ts"], name="integrationlog_sys_status_ts"),
            # The admin's "error code" filter: its values by a loose index scan, and the rows of one code.
            models.Index(
                fields=["error_code"], condition=Q(error_code__isnull=False), name="integrationlog_error_code"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(direction__in=["inbound", "outbound"]), name="integrationlog_direction_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(external_system__in=["1c", "b24", "warehouse", "openai", "webhook"]),
                name="integrationlog_system_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["success", "error", "retry"]), name="integrationlog_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ts:%Y-%m-%d %H:%M:%S} {self.direction} {self.external_system} {self.endpoint} {self.status}"


class TokenBucket(models.Model):
    """A token bucket shared by every process, because it lives in the database.

    The shape follows healthchecks.io's ``TokenBucket``: one row per key and
    a static method per policy.  :meth:`reserve` (outbound calls to Bitrix24)
    always hands out a slot and returns how long the caller must wait for it;
    the row lock makes concurrent reservations from several worker processes
    queue up one interval apart, so the aggregate rate never exceeds ``rate``.
    :meth:`authorize` (the API's per-caller limit) refuses when the bucket is
    empty, as healthchecks does.
    """

    value = models.CharField(_("key"), max_length=200, unique=True)
    tokens = models.FloatField(_("tokens"), default=1.0)
    updated = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("rate-limit bucket")
        verbose_name_plural = _("rate-limit buckets")

    def __str__(self) -> str:
        return f"{self.value}: {self.tokens:.2f}"

    @staticmethod
    def reserve(value: str, *, rate: float, burst: int = 1) -> float:
        """Take one token from bucket ``value``; return the seconds to wait before using it.

        ``rate`` tokens are added per second up to ``burst``.  The token count
        may go negative: that is the queue of callers already holding a slot.
        """
        if rate <= 0:
            raise ValueError("rate must be positive")
        with transaction.atomic():
            bucket, _created = TokenBucket.objects.select_for_update().get_or_create(
                value=value, defaults={"tokens": float(burst), "updated": timezone.now()}
            )
            # Read the clock only once the row lock is held: a caller that queued for the lock
            # on PostgreSQL would otherwise be credited the refill of the time it waited.
            now = timezone.now()
            elapsed = max(0.0, (now - bucket.updated).total_seconds())
            tokens = min(float(burst), bucket.tokens + elapsed * rate) - 1.0
            TokenBucket.objects.filter(pk=bucket.pk).update(tokens=tokens, updated=now)
        return 0.0 if tokens >= 0 else -tokens / rate

    @staticmethod
    def authorize(value: str, *, capacity: int, refilled_at: datetime) -> bool:
        """Take one token from bucket ``value``; False when it is empty (healthchecks.io's ``authorize``).

        The bucket holds ``capacity`` tokens and is filled up again at
        ``refilled_at``, the start of the caller's current window, so at most
        ``capacity`` calls are authorized per window.  Every step is a single
        ``UPDATE`` whose ``WHERE`` clause checks the row it changes (no
        transaction, no lock held): concurrent processes never take more than
        ``capacity`` tokens from one fill, and the common case costs one statement.
        """
        bucket = TokenBucket.objects.filter(value=value)

        def take() -> bool:
            return bool(bucket.filter(updated=refilled_at, tokens__gte=1).update(tokens=F("tokens") - 1))

        if take():
            return True
        if bucket.filter(updated__lt=refilled_at).update(tokens=capacity - 1, updated=refilled_at):
            return True
        if not bucket.exists():
            try:
                with transaction.atomic():
                    TokenBucket.objects.create(value=value, tokens=capacity - 1, updated=refilled_at)
                return True
            except IntegrityError:
                pass
        # Empty, or another process created or filled it up since the first try.
        return take()


class RateLimitState(models.Model):
    """Recent rate-limit answers of one portal and the low-rate switch (B24-07), shared by all processes."""

    value = models.CharField(_("key"), max_length=200, unique=True)
    rate_limited_at = models.JSONField(
        _("rate-limit answers"), default=list, help_text=_("ISO timestamps of 429/QUERY_LIMIT_EXCEEDED answers.")
    )
    low_rate_until = models.DateTimeField(_("low rate until"), null=True, blank=True)

    class Meta:
        verbose_name = _("rate-limit state")
        verbose_name_plural = _("rate-limit states")

    def __str__(self) -> str:
        return f"{self.value}: low rate until {self.low_rate_until or '-'}"


class CircuitState(models.Model):
    """The circuit breaker of one external system (PLAT-64), shared by all processes.

    Outcomes are counted in windows of 60 seconds that start with the first
    call after the previous window ended.  While the circuit is open or
    half-open, ``probe_at`` is when the next half-open probe may go out.
    """

    class State(models.TextChoices):
        CLOSED = "closed", _("Closed")
        OPEN = "open", _("Open")
        HALF_OPEN = "half_open", _("Half-open")

    value = models.CharField(_("key"), max_length=200, unique=True)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.CLOSED)
    window_started = models.DateTimeField(_("window started at"), default=timezone.now)
    calls = models.PositiveIntegerField(_("calls"), default=0)
    failures = models.PositiveIntegerField(_("failures"), default=0)
    probe_at = models.DateTimeField(_("next probe at"), null=True, blank=True)

    class Meta:
        verbose_name = _("circuit breaker")
        verbose_name_plural = _("circuit breakers")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state__in=["closed", "open", "half_open"]), name="circuitstate_state_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(failures__lte=models.F("calls")), name="circuitstate_failures_within_calls"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.value}: {self.state}"


# The outbox lives in its own module; Django finds its models through this one.
from integrations.outbox.models import (  # noqa: E402
    Bitrix24TaskLink,
    InboundWebhookEvent,
    OutboxEvent,
    WebhookSubscription,
)

__all__ = [
    "Bitrix24TaskLink",
    "CircuitState",
    "InboundWebhookEvent",
    "IntegrationLog",
    "OutboxEvent",
    "RateLimitState",
    "TokenBucket",
    "WebhookSubscription",
]
