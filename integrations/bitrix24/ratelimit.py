"""The Bitrix24 request limiter (B24-06, B24-07), shared by all worker processes."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable

from integrations.models import TokenBucket

logger = logging.getLogger(__name__)

LOW_RATE_RPS = 0.5
LOW_RATE_TRIGGER_EVENTS = 10
LOW_RATE_WINDOW_SECONDS = 15 * 60


class RateLimiter:
    """Waits before each request so that all processes together stay under ``rate`` requests per second.

    ``rate=0`` disables throttling.  Low-rate mode (0.5 rps) is forced by
    ``low_rate_mode`` or switched on for 15 minutes after more than 10
    rate-limit answers within 15 minutes (counted per process).
    """

    def __init__(
        self,
        *,
        key: str,
        rate: float,
        low_rate_mode: bool = False,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.key = key
        self.rate = rate
        self.forced_low_rate = low_rate_mode
        self.sleep = sleep
        self.clock = clock
        self._rate_limited_at: deque[float] = deque()
        self._low_rate_until = 0.0

    @property
    def low_rate(self) -> bool:
        return self.forced_low_rate or self.clock() < self._low_rate_until

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
        now = self.clock()
        self._rate_limited_at.append(now)
        while self._rate_limited_at and now - self._rate_limited_at[0] > LOW_RATE_WINDOW_SECONDS:
            self._rate_limited_at.popleft()
        if len(self._rate_limited_at) > LOW_RATE_TRIGGER_EVENTS and now >= self._low_rate_until:
            self._low_rate_until = now + LOW_RATE_WINDOW_SECONDS
            logger.warning(
                "integration.b24.rate_limited",
                extra={
                    "event": "integration.b24.rate_limited",
                    "events_in_window": len(self._rate_limited_at),
                    "rate_rps": LOW_RATE_RPS,
                },
            )
