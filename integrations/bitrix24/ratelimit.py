"""The Bitrix24 request limiter (B24-06, B24-07), shared by all worker processes."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from integrations.models import RateLimitState, TokenBucket

logger = logging.getLogger(__name__)

LOW_RATE_RPS = 0.5
LOW_RATE_TRIGGER_EVENTS = 10
LOW_RATE_WINDOW = timedelta(minutes=15)


class RateLimiter:
    """Waits before each request so that all processes together stay under ``rate`` requests per second.

    ``rate=0`` disables throttling.  Low-rate mode (0.5 rps) is forced by
    ``low_rate_mode`` or switched on for 15 minutes after more than 10
    rate-limit answers within 15 minutes; the answers and the switch live in a
    ``RateLimitState`` row, so every worker process counts and slows down together.
    """

    def __init__(
        self,
        *,
        key: str,
        rate: float,
        low_rate_mode: bool = False,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = timezone.now,
    ):
        self.key = key
        self.rate = rate
        self.forced_low_rate = low_rate_mode
        self.sleep = sleep
        self.now = now

    @property
    def low_rate(self) -> bool:
        if self.forced_low_rate:
            return True
        until = RateLimitState.objects.filter(value=self.key).values_list("low_rate_until", flat=True).first()
        return until is not None and self.now() < until

    @property
    def effective_rate(self) -> float:
        if self.low_rate:
            return min(self.rate, LOW_RATE_RPS) if self.rate > 0 else LOW_RATE_RPS
        return self.rate

    def acquire(self) -> float:
        """Block until this process may send one request; return the seconds waited."""
        rate = self.effective_rate
        if rate <= 0:
            return 0.0
        delay = TokenBucket.reserve(self.key, rate=rate)
        if delay > 0:
            self.sleep(delay)
        return delay

    def record_rate_limited(self) -> None:
        """Count one 429 / ``QUERY_LIMIT_EXCEEDED`` answer; switch to low-rate mode past the threshold."""
        now = self.now()
        with transaction.atomic():
            state, _ = RateLimitState.objects.select_for_update().get_or_create(value=self.key)
            recent = [
                stamp for stamp in state.rate_limited_at if now - datetime.fromisoformat(stamp) <= LOW_RATE_WINDOW
            ]
            recent.append(now.isoformat())
            state.rate_limited_at = recent
            switched = len(recent) > LOW_RATE_TRIGGER_EVENTS and (
                state.low_rate_until is None or now >= state.low_rate_until
            )
            if switched:
                state.low_rate_until = now + LOW_RATE_WINDOW
            state.save(update_fields=["rate_limited_at", "low_rate_until"])
        if switched:
            logger.warning(
                "integration.b24.rate_limited",
                extra={
                    "event": "integration.b24.rate_limited",
                    "events_in_window": len(recent),
                    "rate_rps": LOW_RATE_RPS,
                },
            )
