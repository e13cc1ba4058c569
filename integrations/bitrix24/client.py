"""Bitrix24 REST client for telephony statistics and recordings (spec 03, B24-01…B24-13).

Build it with :func:`client_from_config`; nothing here reads settings at
import time.  The webhook token appears only inside the request URL handed to
``requests``: every log line, exception and integration-log row carries the
masked form from :meth:`Bitrix24Client.mask`.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import requests

from integrations.bitrix24.errors import (
    Bitrix24AuthError,
    Bitrix24Error,
    Bitrix24HTTPError,
    Bitrix24MethodNotFound,
    Bitrix24PayloadError,
    Bitrix24RateLimited,
    Bitrix24TransportError,
)
from integrations.bitrix24.ratelimit import RateLimiter
from mastermobile.observability.metrics import INTEGRATION_FAILURES

if TYPE_CHECKING:
    from mastermobile.config import AppConfig

logger = logging.getLogger(__name__)

LIST_METHOD = "voximplant.statistic.get"
DISK_FILE_METHOD = "disk.file.get"
BATCH_METHOD = "batch"
PAGE_SIZE = 50
BATCH_LIMIT = 50
MAX_RETRY_WAIT_SECONDS = 120.0
OPERATION_TIME_LIMIT_WAIT_SECONDS = 600.0
DOWNLOAD_CHUNK_BYTES = 64 * 1024

RATE_LIMIT_ERRORS = frozenset({"QUERY_LIMIT_EXCEEDED", "OPERATION_TIME_LIMIT"})
AUTH_ERRORS = frozenset(
    {"expired_token", "INVALID_CREDENTIALS", "NO_AUTH_FOUND", "insufficient_scope", "ACCESS_DENIED"}
)
METHOD_NOT_FOUND = "ERROR_METHOD_NOT_FOUND"


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
class CallPage:
    """One ``voximplant.statistic.get`` page: items from offset ``start``, the ``next`` offset and ``total``."""

    start: int
    items: list[dict[str, Any]]
    next: int | None
    total: int | None


@dataclass(frozen=True)
class RequestContext:
    """What a request is for, for logs, metrics and the integration log."""

    stage: str = "fetch_calls"
    event: str = "call_export.fetch_calls"
    call_id: str | None = None
    record_id: str | None = None


LISTING = RequestContext()


class Bitrix24Client:
    """Inbound-webhook client: URL building, throttling, retries and typed errors."""

    def __init__(
        self,
        *,
        base_url: str,
        user_id: str,
        token: str,
        limiter: RateLimiter,
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
        return _page_from(start, payload.get("result"), payload.get("next"), payload.get("total"))

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
                page = _page_from(offset, result.results[key], result.next.get(key), result.total.get(key))
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
        return BatchResult(
            results=_as_dict(body.get("result")),
            errors=_as_dict(body.get("result_error")),
            total=_as_dict(body.get("result_total")),
            next=_as_dict(body.get("result_next")),
        )

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
        """One REST method call with throttling and retries; the parsed JSON object on success."""
        _, payload = self._send(
            http_method, self.method_url(method), params=params, json_body=json_body, context=context
        )
        return payload

    def _send(
        self,
        http_method: str,
        url: str,
        *,
        context: RequestContext,
        params: dict[str, str] | None = None,
        json_body: dict[str, Any] | None = None,
        stream: bool = False,
    ) -> tuple[requests.Response, dict[str, Any]]:
        masked = self.mask(url)
        for attempt in range(1, self.max_attempts + 1):
            waited = self.limiter.acquire()
            if waited:
                self._log(context, "throttle", attempt, rate_limit_delay=round(waited, 3))
            self._log(context, "request", attempt)
            try:
                response = self.session.request(
                    http_method,
                    url,
                    params=params,
                    json=json_body,
                    timeout=(self.timeout, self.timeout),
                    stream=stream,
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
                    payload = self._check_stream(response, masked) if stream else self._parse(response, masked)
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

    def _parse(self, response: requests.Response, masked_url: str) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code == 200 and isinstance(body, dict) and "error" not in body:
            return body
        if response.status_code == 200 and not isinstance(body, dict):
            raise Bitrix24PayloadError(
                f"Unexpected Bitrix24 payload from {masked_url}",
                url=masked_url,
                status_code=200,
                body=self._body(response),
            )
        raise self._http_error(response, body if isinstance(body, dict) else {}, masked_url)

    def _check_stream(self, response: requests.Response, masked_url: str) -> dict[str, Any]:
        if response.status_code == 200:
            return {}
        try:
            body = response.json() if "json" in response.headers.get("Content-Type", "") else {}
        except ValueError:
            body = {}
        error = self._http_error(response, body if isinstance(body, dict) else {}, masked_url)
        if response.status_code in (403, 404):
            # CALL-16: a missing recording is retried across task attempts, not here.
            error = Bitrix24HTTPError(str(error), url=masked_url, status_code=response.status_code, body=error.body)
        raise error

    def _http_error(self, response: requests.Response, body: dict[str, Any], masked_url: str) -> Bitrix24HTTPError:
        status = response.status_code
        code = str(body.get("error") or "") or None
        description = self.mask(str(body.get("error_description") or "")) or None
        text = self._body(response)
        detail = (
            f"Bitrix24 {status}{f' {code}' if code else ''}{f': {description}' if description else ''} ({masked_url})"
        )
        kwargs = {
            "url": masked_url,
            "status_code": status,
            "error": code,
            "description": description,
            "body": text,
            "retry_after": _retry_after(response.headers.get("Retry-After")),
        }
        if code in RATE_LIMIT_ERRORS or status == 429:
            return Bitrix24RateLimited(detail, **kwargs)
        if code in AUTH_ERRORS or status in (401, 403):
            return Bitrix24AuthError(detail, **kwargs)
        if code == METHOD_NOT_FOUND:
            return Bitrix24MethodNotFound(detail, **kwargs)
        return Bitrix24HTTPError(detail, retryable=status >= 500, **kwargs)

    def _body(self, response: requests.Response) -> str:
        try:
            text = response.text[:2000]
        except (requests.RequestException, UnicodeDecodeError):
            text = ""
        return self.mask(text)

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


@dataclass(frozen=True)
class BatchResult:
    """``result.result`` / ``result_error`` / ``result_total`` / ``result_next`` of a ``batch`` answer."""

    results: dict[str, Any]
    errors: dict[str, Any]
    total: dict[str, Any]
    next: dict[str, Any]


def _as_dict(value: Any) -> dict[str, Any]:
    # Bitrix24 encodes an empty object as [] in batch answers.
    return value if isinstance(value, dict) else {}


def _as_int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _page_from(start: int, result: Any, next_offset: Any, total: Any) -> CallPage:
    items = [item for item in result if isinstance(item, dict)] if isinstance(result, list) else []
    return CallPage(start=start, items=items, next=_as_int(next_offset), total=_as_int(total))


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def client_from_config(config: AppConfig, **overrides: Any) -> Bitrix24Client:
    """The one factory: a client built from an explicit :class:`AppConfig`.

    ``overrides`` (``correlation_id``, ``sleep``, ``session``, ``audit``…)
    are passed to the constructor.
    """
    base_url = normalise_base_url(config.b24_base_url)
    sleep = overrides.get("sleep", time.sleep)
    limiter = overrides.pop(
        "limiter",
        RateLimiter(
            key=f"b24:{urlsplit(base_url).netloc}",
            rate=config.b24_rate_limit_rps,
            low_rate_mode=config.export_low_rate_mode,
            sleep=sleep,
        ),
    )
    options: dict[str, Any] = {
        "base_url": base_url,
        "user_id": config.b24_webhook_user_id,
        "token": config.b24_webhook_token,
        "limiter": limiter,
        "backoff_seconds": config.b24_backoff_seconds,
        "max_attempts": config.b24_max_attempts,
        "timeout": config.request_timeout_s,
        "use_batch": config.b24_use_batch,
    }
    options.update(overrides)
    return Bitrix24Client(**options)


def list_calls(date_from: datetime, date_to: datetime, *, config: AppConfig | None = None) -> list[dict[str, Any]]:
    """Public entry point: every Bitrix24 call in ``[date_from, date_to]``, read with the project settings."""
    if config is None:
        from django.conf import settings

        config = settings.APP_CONFIG
    return client_from_config(config).list_calls(date_from, date_to)


def recording_url_of(item: dict[str, Any]) -> str | None:
    """``CALL_RECORD_URL``, falling back to ``RECORD_URL`` (B24-04)."""
    url = item.get("CALL_RECORD_URL") or item.get("RECORD_URL")
    return str(url).strip() or None if url else None
