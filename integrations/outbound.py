"""One outbound policy for every external system: limiter, circuit breaker, retries, metrics and the audit row.

Clients (Bitrix24, the OpenAI transcription client, later outbound webhooks)
only build a request and turn its answer into a result or a typed error.  How
a request goes out is decided here, once, parameterised by ``system``:

1. **admit** — the circuit breaker (PLAT-64) may refuse; then no request is
   sent, ``integration_failures_total{reason="circuit_open"}`` counts it and
   the client's "unavailable" error (``integration.unavailable``) is raised;
2. **attempts** — before each one the limiter (if any) may make the caller
   wait; a typed error is counted in ``integration_failures_total`` and
   written as an ``IntegrationLog`` row; a retryable one is tried again after
   the backoff, up to ``max_attempts``;
3. **record** — one outcome per call, after its retries, goes to the breaker:
   a blip that a retry absorbs is a success, and only retryable failures (the
   system is unwell: 5xx, 429, timeouts, network) count against it; an
   answered 4xx means the system is up.

The policy reads errors through :class:`OutboundError`, so it knows nothing
about any one system's exceptions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, cast

from integrations.circuitbreaker import CircuitBreaker, Permit
from integrations.services import integration_log_write
from mastermobile.observability.metrics import INTEGRATION_FAILURES

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Every client so far accepts only a 200 as a usable answer; the success row says so.
SUCCESS_STATUS = 200


class OutboundError(Protocol):
    """What the policy reads from a client's typed error."""

    @property
    def retryable(self) -> bool:
        """Trying again may succeed (and the failure says the system is unwell)."""

    @property
    def retry_after(self) -> float | None:
        """Seconds the system asked us to wait (``Retry-After``), if it did."""

    @property
    def status_code(self) -> int | None:
        """The HTTP status of the answer; None when there was no answer."""

    @property
    def error_code(self) -> str:
        """The pipeline error code (STT-56): the metric's ``reason`` and the audit row's ``error_code``."""

    @property
    def rate_limited(self) -> bool:
        """The system asked us to slow down (429 and its kin): the limiter is told."""


class Limiter(Protocol):
    """A request limiter such as :class:`integrations.bitrix24.ratelimit.RateLimiter`."""

    def acquire(self) -> float:
        """Block until one request may go out; the seconds waited."""

    def record_rate_limited(self) -> None:
        """Count one rate-limit answer."""


@dataclass(frozen=True)
class Backoff:
    """Waits that double from ``base_seconds`` (``base × 2^(attempt−1)``); a longer ``Retry-After`` wins.

    No wait is longer than ``cap_seconds``.  ``base_seconds <= 0`` means
    retrying at once, whatever the system asked (tests and the ping use it).
    """

    base_seconds: float = 0.0
    cap_seconds: float = 120.0

    def __call__(self, attempt: int, error: OutboundError) -> float:
        if self.base_seconds <= 0:
            return 0.0
        delay = self.base_seconds * 2 ** (attempt - 1)
        if error.retry_after is not None:
            delay = max(delay, error.retry_after)
        return min(delay, self.cap_seconds)


class OutboundPolicy:
    """How one client's requests to ``system`` go out; see the module docstring for the order of steps.

    ``errors`` are the client's typed exceptions (they follow
    :class:`OutboundError`); anything else a request raises is a bug, passes
    through untouched and is not counted.  ``unavailable(endpoint)`` builds
    the error raised while the circuit is open.  ``logger`` is the client's,
    so its log lines keep their logger name.
    """

    def __init__(
        self,
        *,
        system: str,
        breaker: CircuitBreaker,
        errors: type[Exception] | tuple[type[Exception], ...],
        unavailable: Callable[[str], Exception],
        limiter: Limiter | None = None,
        max_attempts: int = 1,
        backoff: Callable[[int, Any], float] | None = None,
        audit: bool = True,
        correlation_id: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        logger: logging.Logger = logger,
    ):
        self.system = system
        self.breaker = breaker
        self.errors = errors
        self.unavailable = unavailable
        self.limiter = limiter
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff or Backoff()
        self.audit = audit
        self.correlation_id = correlation_id
        self.sleep = sleep
        self.logger = logger

    def call(
        self,
        send: Callable[[], T],
        *,
        endpoint: str,
        event: str,
        retry_stage: str,
        resource_ref: str | None = None,
        log_fields: Mapping[str, Any] | None = None,
        success_stage: str = "success",
    ) -> T:
        """Run ``send`` (one attempt: a request and its parsed answer) under the policy; its result.

        ``endpoint`` must already be masked: it goes into messages, logs and
        the audit row.  ``event`` names the log lines (their ``stage`` is
        ``throttle``, ``request``, ``retry``, ``failure`` or ``success_stage``);
        ``retry_stage`` labels the metric.  ``resource_ref`` goes on the audit
        row, ``log_fields`` on every log line.  Raises the last typed error when
        the attempts run out or it is not retryable, and ``unavailable(endpoint)``
        without sending anything while the circuit is open.
        """
        call = _Call(self, endpoint, event, retry_stage, resource_ref, dict(log_fields or {}))
        permit = self.breaker.admit()
        if permit is Permit.REFUSED:
            refused: Any = self.unavailable(endpoint)
            self._count(reason="circuit_open", retry_stage=retry_stage)
            call.log("failure", 0, error_code=refused.error_code)
            raise refused
        try:
            result = self._attempts(send, call, success_stage)
        except self.errors as error:
            # The clients' error classes are what OutboundError describes.
            self.breaker.record(ok=not cast(OutboundError, error).retryable, permit=permit)
            raise
        self.breaker.record(ok=True, permit=permit)
        return result

    def _attempts(self, send: Callable[[], T], call: _Call, success_stage: str) -> T:
        for attempt in range(1, self.max_attempts + 1):
            if self.limiter is not None:
                waited = self.limiter.acquire()
                if waited:
                    call.log("throttle", attempt, rate_limit_delay=round(waited, 3))
            call.log("request", attempt)
            try:
                result = send()
            except self.errors as caught:
                error: Any = caught
            else:
                call.log(success_stage, attempt, status_code=SUCCESS_STATUS)
                call.audit("success", attempt, SUCCESS_STATUS)
                return result

            give_up = not error.retryable or attempt >= self.max_attempts
            if error.rate_limited and self.limiter is not None:
                self.limiter.record_rate_limited()
            self._count(reason=error.error_code, retry_stage=call.retry_stage)
            call.audit("error" if give_up else "retry", attempt, error.status_code, error.error_code)
            if give_up:
                call.log("failure", attempt, status_code=error.status_code, error_code=error.error_code)
                raise error
            delay = self.backoff(attempt, error)
            call.log("retry", attempt, status_code=error.status_code, retry_delay=delay, error_code=error.error_code)
            if delay:
                self.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _count(self, *, reason: str, retry_stage: str) -> None:
        INTEGRATION_FAILURES.labels(system=self.system, reason=reason, retry_stage=retry_stage).inc()


@dataclass(frozen=True)
class _Call:
    """What every log line and audit row of one call carries."""

    policy: OutboundPolicy
    endpoint: str
    event: str
    retry_stage: str
    resource_ref: str | None
    log_fields: dict[str, Any]

    def log(self, stage: str, attempt: int, **fields: Any) -> None:
        extra: dict[str, Any] = {
            "event": self.event,
            "stage": stage,
            "attempt": attempt,
            "correlation_id": self.policy.correlation_id,
            **self.log_fields,
            **fields,
        }
        level = logging.WARNING if stage in ("retry", "failure") else logging.INFO
        self.policy.logger.log(level, f"{self.event} {stage}", extra=extra)

    def audit(self, status: str, attempt: int, status_code: int | None, error_code: str | None = None) -> None:
        if not self.policy.audit:
            return
        integration_log_write(
            direction="outbound",
            external_system=self.policy.system,
            endpoint=self.endpoint,
            status=status,
            status_code=status_code,
            correlation_id=self.policy.correlation_id,
            resource_ref=self.resource_ref,
            error_code=error_code,
            retry_count=attempt - 1,
        )
