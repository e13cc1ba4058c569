"""Per-subject rate limit (PLAT-44): ``API_THROTTLE_RATE``, 600 requests a minute by default.

The count is shared by every process that serves the API, so the limit holds
whatever the number of gunicorn workers: with ``Q_BROKER=redis`` it lives in
the deployment's Redis cache, otherwise in the database as a
:class:`integrations.models.TokenBucket` row (``settings.API_THROTTLE_STORE``).

Requests are counted in fixed windows of the rate's period (a minute for
``600/min``) starting on the epoch: at most N requests per caller in each
window, and a refused caller is told in ``Retry-After`` when the next window
starts.  DRF's own throttle keeps a list of timestamps that it reads and writes
back, which two processes racing each other overwrite; each store here counts
with one atomic operation instead.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.cache import cache
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from integrations.models import TokenBucket
from mastermobile.api.authentication import Principal

if TYPE_CHECKING:
    from rest_framework.views import APIView

MAX_NAME_LENGTH = 200  # TokenBucket.value


class SubjectRateThrottle(SimpleRateThrottle):
    scope = "subject"
    # Set by SimpleRateThrottle.__init__ from the rate (read only when there is one); not in the stubs.
    num_requests: int
    duration: int

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        user = request.user
        ident = user.actor_id if isinstance(user, Principal) else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request: Request, view: APIView) -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        now = self.timer()
        window = int(now // self.duration)
        self.seconds_to_next_window = (window + 1) * self.duration - now
        return count_request(key, limit=self.num_requests, window=window, duration=self.duration)

    def wait(self) -> float:
        return self.seconds_to_next_window


def count_request(key: str, *, limit: int, window: int, duration: int) -> bool:
    """Count one request of ``key`` in ``window``; False when ``limit`` requests were counted already."""
    name = counter_name(key)
    if settings.API_THROTTLE_STORE == "redis":
        return _count_in_cache(f"{name}:{window}", limit=limit, duration=duration)
    return TokenBucket.authorize(name, capacity=limit, refilled_at=datetime.fromtimestamp(window * duration, UTC))


def counter_name(key: str) -> str:
    """The stored name of a throttle key: the key itself, or its hash when it is long or not printable text."""
    if len(key) <= MAX_NAME_LENGTH and key.isprintable():
        return key
    return "throttle_sha256_" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _count_in_cache(counter: str, *, limit: int, duration: int) -> bool:
    # One counter per window; it outlives its window, so it cannot expire between add() and incr().
    cache.add(counter, 0, timeout=duration + 60)
    try:
        return cache.incr(counter) <= limit
    except ValueError:  # evicted between add() and incr()
        cache.add(counter, 1, timeout=duration + 60)
        return True
