"""Bitrix24 REST client for telephony statistics and recordings (spec 03, B24-01…B24-13).

Build it with :func:`~integrations.bitrix24.factory.client_from_config`;
nothing here reads settings at import time.  The webhook token appears only
inside the request URL handed to ``requests``: every log line, exception and
integration-log row carries the masked form from :meth:`Bitrix24Client.mask`.
Answer shapes and error classification live in
:mod:`integrations.bitrix24.responses`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests

from integrations.bitrix24.errors import (
    Bitrix24Error,
    Bitrix24PayloadError,
    Bitrix24RateLimited,
    Bitrix24TransportError,
    Bitrix24Unavailable,
)
from integrations.bitrix24.ratelimit import RateLimiter
from integrations.bitrix24.responses import (
    BatchResult,
    CallPage,
    batch_result_from,
    check_stream,
    page_from,
    parse_json,
)
from integrations.circuitbreaker import CircuitBreaker, Permit
from mastermobile.observability.metrics import INTEGRATION_FAILURES

logger = logging.getLogger(__name__)

LIST_METHOD = "voximplant.statistic.get"
DISK_FILE_METHOD = "disk.file.get"
BATCH_METHOD = "batch"
PAGE_SIZE = 50
BATCH_LIMIT = 50
MAX_RETRY_WAIT_SECONDS = 120.0
OPERATION_TIME_LIMIT_WAIT_SECONDS = 600.0
DOWNLOAD_CHUNK_BYTES = 64 * 1024


def normalise_base_url(url: str) -> str:
    """B24-01: strip trailing slashes, then one trailing ``/rest``."""
    base = url.strip().rstrip("/")
    if base.endswith("/rest"):
        base = base[: -len("/rest")]
    return base


def iso_utc(moment: datetime) -> str:
    """ISO-8601 in UTC for the listing filter; naive datetimes are taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


@dataclass(frozen=True)
class RequestContext:
    """What a request is for, for logs, metrics and the integration log."""

    stage: str = "fetch_calls"
    event: str = "call_export.fetch_calls"
    call_id: str | None = None
    record_id: str | None = None


LISTING = RequestContext()


class Bitrix24Client:
    """Inbound-webhook client: URL building, throttling, retries, the circuit breaker and typed errors."""

    def __init__(
        self,
        *,
        base_url: str,
        user_id: str,
        token: str,
        limiter: RateLimiter,
        breaker: CircuitBreaker,
        backoff_seconds: float = 5.0,
        max_attempts: int = 5,
        timeout: float = 30.0,
        use_batch: bool = True,
        correlation_id: str | None = None,
        audit: bool = True,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.base_url = normalise_base_url(base_url)
        self.user_id = str(user_id).strip()
        self.token = token.strip()
        self.limiter = limiter
        self.breaker = breaker
        self.backoff_seconds = backoff_seconds
        self.max_attempts = max(1, max_attempts)
        self.timeout = timeout
        self.use_batch = use_batch
        self.correlation_id = correlation_id
        self.audit = audit
        self.session = session or requests.Session()
        self.sleep = sleep

    # URLs and masking -------------------------------------------------

    def method_url(self, method: str) -> str:
        """``<base>/rest/<user>/<token>/<method>.json`` (B24-01)."""
        return f"{self.base_url}/rest/{self.user_id}/{self.token}/{method}.json"

    def mask(self, text: str) -> str:
        """Replace the webhook token with ``***`` (B24-02)."""
        if self.token and text:
            text = text.replace(self.token, "***")
        return text

    @property
    def portal_host(self) -> str:
        return urlsplit(self.base_url).netloc

    # Listing ----------------------------------------------------------

    def list_calls(self, date_from: datetime, date_to: datetime) -> list[dict[str, Any]]:
        """Every call started in ``[date_from, date_to]`` (both inclusive), oldest first."""
        calls: list[dict[str, Any]] = []
        for page in self.iter_call_pages(date_from, date_to):
            calls.extend(page.items)
        logger.info(
            "call_export.fetch_calls",
            extra={"event": "call_export.fetch_calls", "stage": "completed", "total_calls": len(calls)},
        )
        return calls

    def iter_call_pages(self, date_from: datetime, date_to: datetime, *, start: int = 0) -> Iterator[CallPage]:
        """Pages in ascending ``CALL_START_DATE`` order from offset ``start`` (B24-03…05, B24-13).

        The first page is a plain request (it tells ``total``); with batching
        on, the following pages are fetched up to 50 per ``batch`` request.
        Either way the pages, and so the items, are the same.
        """
        params = self.list_params(date_from, date_to)
        logger.info(
            "call_export.fetch_calls",
            extra={
                "event": "call_export.fetch_calls",
                "stage": "start",
                "date_from": params["FILTER[>=CALL_START_DATE]"],
                "date_to": params["FILTER[<=CALL_START_DATE]"],
                "start": start,
                "batch": self.use_batch,
            },
        )
        page = self.fetch_page(params, start)
        yield page
        while page.next is not None:
            offsets = self._batch_offsets(page)
            if len(offsets) > 1:
                pages = self.fetch_pages_batched(params, offsets)
                yield from pages
                page = pages[-1]
            else:
                page = self.fetch_page(params, page.next)
                yield page

    @staticmethod
    def list_params(date_from: datetime, date_to: datetime) -> dict[str, str]:
        """Query of ``voximplant.statistic.get`` with the operator-prefixed filter keys (B24-03)."""
        return {
            "FILTER[>=CALL_START_DATE]": iso_utc(date_from),
            "FILTER[<=CALL_START_DATE]": iso_utc(date_to),
            "SORT": "CALL_START_DATE",
            "ORDER": "ASC",
        }

    def fetch_page(self, params: dict[str, str], start: int) -> CallPage:
        query = dict(params)
        if start:
            query["start"] = str(start)
        payload = self.call(LIST_METHOD, query)
        return page_from(start, payload.get("result"), payload.get("next"), payload.get("total"))

    def fetch_pages_batched(self, params: dict[str, str], offsets: list[int]) -> list[CallPage]:
        """Up to 50 listing pages in one ``batch`` request; failed commands are fetched one by one."""
        commands = {f"p{offset}": f"{LIST_METHOD}?{urlencode({**params, 'start': offset})}" for offset in offsets}
        result = self.batch(commands)
        pages: list[CallPage] = []
        for offset in offsets:
            key = f"p{offset}"
            if key in result.errors or key not in result.results:
                page = self.fetch_page(params, offset)
            else:
                page = page_from(offset, result.results[key], result.next.get(key), result.total.get(key))
            pages.append(page)
            if page.next is None:
                break
        return pages

    def _batch_offsets(self, page: CallPage) -> list[int]:
        if not self.use_batch or page.next is None or not page.total:
            return []
        return list(range(page.next, page.total, PAGE_SIZE))[:BATCH_LIMIT]

    # Other methods ----------------------------------------------------

    def batch(self, commands: dict[str, str]) -> BatchResult:
        """``batch`` with ``halt=0`` (B24-13): up to 50 commands as one request against the limit."""
        if len(commands) > BATCH_LIMIT:
            raise ValueError(f"batch accepts at most {BATCH_LIMIT} commands")
        payload = self.call(BATCH_METHOD, json_body={"halt": 0, "cmd": commands}, http_method="POST")
        body = payload.get("result")
        if not isinstance(body, dict):
            raise Bitrix24PayloadError("Unexpected Bitrix24 payload: batch without result")
        return batch_result_from(body)

    def disk_download_url(self, file_id: str, *, context: RequestContext = LISTING) -> str:
        """``DOWNLOAD_URL`` of a Bitrix24 Disk file (``disk.file.get``, scope ``disk``)."""
        payload = self.call(DISK_FILE_METHOD, {"id": str(file_id)}, context=context)
        result = payload.get("result")
        url = result.get("DOWNLOAD_URL") if isinstance(result, dict) else None
        if not url:
            raise Bitrix24PayloadError(f"Unexpected Bitrix24 payload: disk file {file_id} has no DOWNLOAD_URL")
        return str(url)

    def open_recording(self, url: str, *, context: RequestContext) -> requests.Response:
        """A streamed GET of a recording (B24-12), retried like any request except 403/404.

        The caller owns the response and must close it (use it as a context
        manager).  Connect and per-chunk read timeouts are ``timeout``.
        """
        response, _ = self._send("GET", url, context=context, stream=True)
        return response

    # Core request loop ------------------------------------------------

    def call(
        self,
        method: str,
        params: dict[str, str] | None = None,
        *,
        json_body: dict[str, Any] | None = None,
        http_method: str = "GET",
        context: RequestContext = LISTING,
    ) -> dict[str, Any]:
        """One REST method call with throttling and retries; the parsed JSON object on success.

        Raises :class:`Bitrix24Unavailable` without a request while the circuit is open.
        """
        _, payload = self._send(http_method, self.method_url(method), context=context, params=params, json=json_body)
        return payload

    def _send(
        self,
        http_method: str,
        url: str,
        *,
        context: RequestContext,
        stream: bool = False,
        **request: Any,
    ) -> tuple[requests.Response, dict[str, Any]]:
        """Send through the circuit breaker: one outcome per call, counted after its retries (PLAT-64)."""
        masked = self.mask(url)
        permit = self.breaker.admit()
        if permit is Permit.REFUSED:
            INTEGRATION_FAILURES.labels(system="b24", reason="circuit_open", retry_stage=context.stage).inc()
            self._log(context, "failure", 0, error_code=Bitrix24Unavailable.code)
            raise Bitrix24Unavailable(f"Bitrix24 is unavailable (circuit open), not sent: {masked}", url=masked)
        try:
            sent = self._send_with_retries(http_method, url, masked, context, stream, request)
        except Bitrix24Error as error:
            # Only failures that say the portal is unwell count; a 4xx answer means it is up.
            self.breaker.record(ok=not error.retryable, permit=permit)
            raise
        self.breaker.record(ok=True, permit=permit)
        return sent

    def _send_with_retries(
        self, http_method: str, url: str, masked: str, context: RequestContext, stream: bool, request: dict[str, Any]
    ) -> tuple[requests.Response, dict[str, Any]]:
        for attempt in range(1, self.max_attempts + 1):
            waited = self.limiter.acquire()
            if waited:
                self._log(context, "throttle", attempt, rate_limit_delay=round(waited, 3))
            self._log(context, "request", attempt)
            try:
                response = self.session.request(
                    http_method, url, timeout=(self.timeout, self.timeout), stream=stream, **request
                )
            except requests.Timeout:
                # The requests exception text carries the raw URL: never chain it.
                error: Bitrix24Error = Bitrix24TransportError(
                    f"Bitrix24 request timed out: {masked}", url=masked, timeout=True
                )
            except requests.RequestException as exc:
                error = Bitrix24TransportError(
                    f"Bitrix24 request failed ({exc.__class__.__name__}): {masked}", url=masked
                )
            else:
                try:
                    payload = (
                        check_stream(response, masked, self.mask) if stream else parse_json(response, masked, self.mask)
                    )
                except Bitrix24Error as exc:
                    response.close()
                    error = exc
                else:
                    self._log(context, "success" if not stream else "completed", attempt, status_code=200)
                    self._audit(masked, "success", 200, context, attempt)
                    return response, payload

            give_up = not error.retryable or attempt >= self.max_attempts
            if isinstance(error, Bitrix24RateLimited):
                self.limiter.record_rate_limited()
            INTEGRATION_FAILURES.labels(system="b24", reason=error.code, retry_stage=context.stage).inc()
            self._audit(masked, "error" if give_up else "retry", error.status_code, context, attempt, error.code)
            if give_up:
                self._log(context, "failure", attempt, status_code=error.status_code, error_code=error.code)
                raise error
            delay = self.retry_delay(attempt, error)
            self._log(
                context, "retry", attempt, status_code=error.status_code, retry_delay=delay, error_code=error.code
            )
            if delay:
                self.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def retry_delay(self, attempt: int, error: Bitrix24Error) -> float:
        """B24-08: ``backoff × 2^(attempt−1)``, or a longer ``Retry-After``; at most 120 s (600 s for OPERATION_TIME_LIMIT)."""
        if self.backoff_seconds <= 0:
            return 0.0
        delay = self.backoff_seconds * 2 ** (attempt - 1)
        if error.retry_after is not None:
            delay = max(delay, error.retry_after)
        if error.error == "OPERATION_TIME_LIMIT":
            return OPERATION_TIME_LIMIT_WAIT_SECONDS
        return min(delay, MAX_RETRY_WAIT_SECONDS)

    def _log(self, context: RequestContext, stage: str, attempt: int, **fields: Any) -> None:
        extra: dict[str, Any] = {
            "event": context.event,
            "stage": stage,
            "attempt": attempt,
            "correlation_id": self.correlation_id,
        }
        if context.call_id is not None:
            extra.update(call_id=context.call_id, record_id=context.record_id)
        extra.update(fields)
        level = logging.WARNING if stage in ("retry", "failure") else logging.INFO
        logger.log(level, f"{context.event} {stage}", extra=extra)

    def _audit(
        self,
        masked_url: str,
        status: str,
        status_code: int | None,
        context: RequestContext,
        attempt: int,
        error_code: str | None = None,
    ) -> None:
        if not self.audit:
            return
        from integrations.services import integration_log_write

        integration_log_write(
            direction="outbound",
            external_system="b24",
            endpoint=masked_url,
            status=status,
            status_code=status_code,
            correlation_id=self.correlation_id,
            resource_ref=context.call_id,
            error_code=error_code,
            retry_count=attempt - 1,
        )
