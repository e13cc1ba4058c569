"""Records of traffic with external systems (RET-08)."""

from __future__ import annotations

from django.db import models, transaction
from django.utils import timezone

REQUEST_BODY_LIMIT = 64 * 1024


class IntegrationLog(models.Model):
    """One inbound API write or one outbound call to 1C, Bitrix24, OpenAI or the warehouse."""

    class Direction(models.TextChoices):
        INBOUND = "inbound", "Inbound"
        OUTBOUND = "outbound", "Outbound"

    class System(models.TextChoices):
        ONEC = "1c", "1C"
        BITRIX24 = "b24", "Bitrix24"
        WAREHOUSE = "warehouse", "Walking Warehouse"
        OPENAI = "openai", "OpenAI"

    class Status(models.TextChoices):
        SUCCESS = "success", "Success"
        ERROR = "error", "Error"
        RETRY = "retry", "Retry"

    ts = models.DateTimeField(default=timezone.now, db_index=True)
    direction = models.CharField(max_length=16, choices=Direction.choices)
    external_system = models.CharField(max_length=16, choices=System.choices)
    endpoint = models.CharField(max_length=500, help_text="Path or method; secrets masked.")
    status = models.CharField(max_length=16, choices=Status.choices)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    correlation_id = models.CharField(max_length=128, null=True, blank=True, db_index=True)
    resource_ref = models.CharField(max_length=128, null=True, blank=True, db_index=True)
    request = models.JSONField(null=True, blank=True)
    response = models.JSONField(null=True, blank=True)
    error_code = models.CharField(max_length=128, null=True, blank=True)
    retry_count = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-ts", "-id"]
        indexes = [models.Index(fields=["external_system", "status", "-ts"], name="integrationlog_sys_status_ts")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(direction__in=["inbound", "outbound"]), name="integrationlog_direction_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(external_system__in=["1c", "b24", "warehouse", "openai"]),
                name="integrationlog_system_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["success", "error", "retry"]), name="integrationlog_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ts:%Y-%m-%d %H:%M:%S} {self.direction} {self.external_system} {self.endpoint} {self.status}"


class TokenBucket(models.Model):
    """A leaky bucket shared by every process, because it lives in the database.

    The shape follows healthchecks.io's ``TokenBucket``: one row per key and
    one static method.  Unlike healthchecks (which refuses when the bucket is
    empty) :meth:`reserve` always hands out a slot and returns how long the
    caller must wait for it; the row lock makes concurrent reservations from
    several worker processes queue up one interval apart, so the aggregate
    rate never exceeds ``rate``.
    """

    value = models.CharField(max_length=200, unique=True)
    tokens = models.FloatField(default=1.0)
    updated = models.DateTimeField(default=timezone.now)

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
            now = timezone.now()
            bucket, _created = TokenBucket.objects.select_for_update().get_or_create(
                value=value, defaults={"tokens": float(burst), "updated": now}
            )
            elapsed = max(0.0, (now - bucket.updated).total_seconds())
            tokens = min(float(burst), bucket.tokens + elapsed * rate) - 1.0
            TokenBucket.objects.filter(pk=bucket.pk).update(tokens=tokens, updated=now)
        return 0.0 if tokens >= 0 else -tokens / rate


class RateLimitState(models.Model):
    """Recent rate-limit answers of one portal and the low-rate switch (B24-07), shared by all processes."""

    value = models.CharField(max_length=200, unique=True)
    rate_limited_at = models.JSONField(default=list, help_text="ISO timestamps of 429/QUERY_LIMIT_EXCEEDED answers.")
    low_rate_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.value}: low rate until {self.low_rate_until or '-'}"


class CircuitState(models.Model):
    """The circuit breaker of one external system (PLAT-64), shared by all processes.

    Outcomes are counted in windows of 60 seconds that start with the first
    call after the previous window ended.  While the circuit is open or
    half-open, ``probe_at`` is when the next half-open probe may go out.
    """

    class State(models.TextChoices):
        CLOSED = "closed", "Closed"
        OPEN = "open", "Open"
        HALF_OPEN = "half_open", "Half-open"

    value = models.CharField(max_length=200, unique=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.CLOSED)
    window_started = models.DateTimeField(default=timezone.now)
    calls = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)
    probe_at = models.DateTimeField(null=True, blank=True)

    class Meta:
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
