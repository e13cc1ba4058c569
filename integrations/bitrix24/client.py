"""Bitrix24 REST client for telephony statistics, recordings (spec 03, B24-01…B24-13) and tasks (BX-01).

Build it with :func:`~integrations.bitrix24.factory.client_from_config`;
nothing here reads settings at import time.  The webhook token appears only
inside the request URL handed to ``requests``: every log line, exception and
integration-log row carries the masked form from :meth:`Bitrix24Client.mask`.
Answer shapes and error classification live in
:mod:`integrations.bitrix24.responses`; throttling, retries, the circuit
breaker, the failure metric and the integration-log rows are the shared
:class:`~integrations.outbound.OutboundPolicy`, set up for Bitrix24 by
:func:`outbound_policy`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

import requests

from integrations.bitrix24.errors import (
    Bitrix24Error,
    Bitrix24PayloadError,
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
from integrations.circuitbreaker import CircuitBreaker
from integrations.outbound import Backoff, Limiter, OutboundError, OutboundPolicy
from mastermobile.observability.logging import masked_url

logger = logging.getLogger(__name__)
T = TypeVar("T")

LIST_METHOD = "voximplant.statistic.get"
DISK_FILE_METHOD = "disk.file.get"
BATCH_METHOD = "batch"
TASK_ADD_METHOD = "tasks.task.add"
TASK_UPDATE_METHOD = "tasks.task.update"
TASK_COMPLETE_METHOD = "tasks.task.complete"
TASK_LIST_METHOD = "tasks.task.list"
PAGE_SIZE = 50
BATCH_LIMIT = 50
# Successful batches in a row after which a halved batch size doubles again.
BATCH_GROW_AFTER = 3
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
TASKS = RequestContext(stage="task", event="bitrix24.task")


@dataclass
class BatchSize:
    """How many listing pages the next ``batch`` asks for: halved when one is too slow, grown back after successes.

    A large portal runs the commands of a batch one after the other, so a
    50-page batch can take longer than the read timeout; the same batch sent
    again would time out again.  A timeout or a 5xx answer halves the size
    (50 → 25 → 12 → 6 → 3 → 1) for the next attempt; :data:`BATCH_GROW_AFTER`
    successes in a row double it, up to :data:`BATCH_LIMIT`.  Rate-limit
    answers leave it alone: smaller batches would only mean more requests.
    """

    current: int = BATCH_LIMIT
    successes: int = 0

    def shrink(self) -> None:
        self.current, self.successes = max(1, self.current // 2), 0

    def grow(self) -> None:
        self.successes += 1
        if self.current < BATCH_LIMIT and self.successes >= BATCH_GROW_AFTER:
            self.current, self.successes = min(BATCH_LIMIT, self.current * 2), 0


@dataclass(frozen=True)
class Bitrix24Backoff(Backoff):
    """B24-08: the shared doubling capped at 120 s, except ``OPERATION_TIME_LIMIT`` (the method is blocked for 10 minutes)."""

    cap_seconds: float = MAX_RETRY_WAIT_SECONDS

    def __call__(self, attempt: int, error: OutboundError) -> float:
        if self.base_seconds > 0 and isinstance(error, Bitrix24Error) and error.error == "OPERATION_TIME_LIMIT":
            return OPERATION_TIME_LIMIT_WAIT_SECONDS
        return super().__call__(attempt, error)


def outbound_policy(
    *,
    breaker: CircuitBreaker,
    limiter: RateLimiter,
    backoff_seconds: float = 5.0,
    max_attempts: int = 5,
    correlation_id: str | None = None,
    audit: bool = True,
    sleep: Callable[[float], None] = time.sleep,
) -> OutboundPolicy:
    """The shared outbound policy as Bitrix24 needs it: its errors, the B24-08 backoff and this module's log lines."""
    return OutboundPolicy(
        system="b24",
        breaker=breaker,
        errors=Bitrix24Error,
        unavailable=Bitrix24Unavailable.circuit_open,
        limiter=limiter,
        max_attempts=max_attempts,
        backoff=Bitrix24Backoff(backoff_seconds),
        audit=audit,
        correlation_id=correlation_id,
        sleep=sleep,
        logger=logger,
    )


class Bitrix24Client:
    """Inbound-webhook client: URL building, answers and typed errors; every request goes through a policy.

    REST methods go through ``policy``, recording downloads through
    ``download_policy`` (its own limiter; the same policy when none is given).
    A policy (:func:`outbound_policy`) owns throttling, retries, the circuit
    breaker, the failure metric and the integration-log rows.
    """

    def __init__(
        self,
        *,
        base_url: str,
        user_id: str,
        token: str,
        policy: OutboundPolicy,
        download_policy: OutboundPolicy | None = None,
        timeout: float = 30.0,
        use_batch: bool = True,
        session: requests.Session | None = None,
    ):
        self.base_url = normalise_base_url(base_url)
        self.user_id = str(user_id).strip()
        self.token = token.strip()
        self.policy = policy
        self.download_policy = download_policy or policy
        self.timeout = timeout
        self.use_batch = use_batch
        self.batch_size = BatchSize()
        self.session = session or requests.Session()

    @property
    def breaker(self) -> CircuitBreaker:
        return self.policy.breaker

    @property
    def limiter(self) -> Limiter | None:
        return self.policy.limiter

    # URLs and masking -------------------------------------------------

    def method_url(self, method: str) -> str:
        """``<base>/rest/<user>/<token>/<method>.json`` (B24-01)."""
        return f"{self.base_url}/rest/{self.user_id}/{self.token}/{method}.json"

    def mask(self, text: str) -> str:
        """The webhook token, wherever it appears, and every credential in a URL as ``***`` (B24-02).

        Recording and Disk download URLs carry the portal's access key as
        ``auth=``; :func:`~mastermobile.observability.logging.masked_url` hides it.
        """
        if self.token and text:
            text = text.replace(self.token, "***")
        return masked_url(text)

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
        while (offset := page.next) is not None:
            offsets = self._batch_offsets(page)
            if len(offsets) > 1:
                pages = self.fetch_pages_batched(params, offsets)
                yield from pages
                page = pages[-1]
            else:
                page = self.fetch_page(params, offset)
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
        """The first :class:`BatchSize` of ``offsets`` in one ``batch`` request; failed commands are fetched one by one.

        Each attempt asks for as many pages as :attr:`batch_size` allows at that
        moment, so a retry after a timeout asks for half as many; the pages
        returned are those of the attempt that succeeded, in order.
        """
        sent: list[int] = []

        def commands() -> dict[str, str]:
            sent[:] = offsets[: self.batch_size.current]
            return {f"p{offset}": f"{LIST_METHOD}?{urlencode({**params, 'start': offset})}" for offset in sent}

        result = self._adaptive_batch(commands)
        pages: list[CallPage] = []
        for offset in sent:
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
        return _batch_body(payload)

    def _adaptive_batch(self, commands: Callable[[], dict[str, str]]) -> BatchResult:
        """``batch`` whose commands are built anew for every attempt, the :class:`BatchSize` told how each went."""
        url = self.method_url(BATCH_METHOD)
        masked = self.mask(url)

        def attempt() -> dict[str, Any]:
            request = {"json": {"halt": 0, "cmd": commands()}}
            try:
                _, payload = self._attempt("POST", url, masked, False, request)
            except Bitrix24Error as error:
                if error.retryable and not error.rate_limited and (error.status_code or 500) >= 500:
                    self._shrink_batch(error)
                raise
            self.batch_size.grow()
            return payload

        return _batch_body(self._through_policy(attempt, masked, LISTING, stream=False))

    def _shrink_batch(self, error: Bitrix24Error) -> None:
        before = self.batch_size.current
        self.batch_size.shrink()
        logger.warning(
            "call_export.fetch_calls batch_shrunk",
            extra={
                "event": "call_export.fetch_calls",
                "stage": "batch_shrunk",
                "error_code": error.error_code,
                "batch_size_before": before,
                "batch_size": self.batch_size.current,
            },
        )

    def disk_download_url(self, file_id: str, *, context: RequestContext = LISTING) -> str:
        """``DOWNLOAD_URL`` of a Bitrix24 Disk file (``disk.file.get``, scope ``disk``)."""
        payload = self.call(DISK_FILE_METHOD, {"id": str(file_id)}, context=context)
        result = payload.get("result")
        url = result.get("DOWNLOAD_URL") if isinstance(result, dict) else None
        if not url:
            raise Bitrix24PayloadError(f"Unexpected Bitrix24 payload: disk file {file_id} has no DOWNLOAD_URL")
        return str(url)

    # Tasks (BX-01) ----------------------------------------------------

    def task_add(self, fields: dict[str, Any]) -> str:
        """``tasks.task.add``: create a task from ``fields`` (``TITLE``, ``RESPONSIBLE_ID``…); its id (``result.task.id``)."""
        payload = self.call(TASK_ADD_METHOD, json_body={"fields": fields}, http_method="POST", context=TASKS)
        result = payload.get("result")
        task = result.get("task") if isinstance(result, dict) else None
        task_id = task.get("id") if isinstance(task, dict) else None
        if not task_id:
            raise Bitrix24PayloadError("Unexpected Bitrix24 payload: tasks.task.add without result.task.id")
        return str(task_id)

    def task_update(self, task_id: str, fields: dict[str, Any]) -> None:
        """``tasks.task.update``: change ``fields`` of task ``task_id``."""
        self.call(
            TASK_UPDATE_METHOD, json_body={"taskId": task_id, "fields": fields}, http_method="POST", context=TASKS
        )

    def task_complete(self, task_id: str) -> None:
        """``tasks.task.complete``: mark task ``task_id`` completed."""
        self.call(TASK_COMPLETE_METHOD, json_body={"taskId": task_id}, http_method="POST", context=TASKS)

    def task_find_by_xml_id(self, xml_id: str) -> str | None:
        """The id of the task whose external id (``XML_ID``) is ``xml_id``, or None (``tasks.task.list``).

        Only a task whose answer carries that very ``xmlId`` counts, so a
        portal that ignored the filter cannot hand back an unrelated task.
        """
        payload = self.call(
            TASK_LIST_METHOD,
            json_body={"filter": {"XML_ID": xml_id}, "select": ["ID", "XML_ID"], "order": {"ID": "asc"}},
            http_method="POST",
            context=TASKS,
        )
        result = payload.get("result")
        tasks = result.get("tasks") if isinstance(result, dict) else None
        for task in tasks if isinstance(tasks, list) else []:
            if isinstance(task, dict) and task.get("xmlId") == xml_id and task.get("id"):
                return str(task["id"])
        return None

    def open_recording(self, url: str, *, context: RequestContext) -> requests.Response:
        """A streamed GET of a recording (B24-12), retried like any request except 403/404.

        It goes through :attr:`download_policy`: file downloads have their own
        limiter (``B24_DOWNLOAD_RATE_RPS``), so they neither wait behind nor
        use up the REST methods' budget.  The caller owns the response and must
        close it (use it as a context manager).  Connect and per-chunk read
        timeouts are ``timeout``.
        """
        masked = self.mask(url)
        response, _ = self._through_policy(
            lambda: self._attempt("GET", url, masked, True, {}),
            masked,
            context,
            stream=True,
            policy=self.download_policy,
        )
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
        url = self.method_url(method)
        masked = self.mask(url)
        request = {"params": params, "json": json_body}
        _, payload = self._through_policy(
            lambda: self._attempt(http_method, url, masked, False, request), masked, context, stream=False
        )
        return payload

    def _through_policy(
        self,
        attempt: Callable[[], T],
        masked: str,
        context: RequestContext,
        *,
        stream: bool,
        policy: OutboundPolicy | None = None,
    ) -> T:
        """One request (``attempt``) through an outbound policy: circuit breaker, limiter, retries, metrics, audit."""
        log_fields = {"call_id": context.call_id, "record_id": context.record_id} if context.call_id is not None else {}
        return (policy or self.policy).call(
            attempt,
            endpoint=masked,
            event=context.event,
            retry_stage=context.stage,
            resource_ref=context.call_id,
            log_fields=log_fields,
            success_stage="completed" if stream else "success",
        )

    def _attempt(
        self, http_method: str, url: str, masked: str, stream: bool, request: dict[str, Any]
    ) -> tuple[requests.Response, dict[str, Any]]:
        """One HTTP request and its answer: the response with its JSON object, or the typed error."""
        try:
            response = self.session.request(
                http_method, url, timeout=(self.timeout, self.timeout), stream=stream, **request
            )
        except requests.Timeout:
            error: Bitrix24Error = Bitrix24TransportError(
                f"Bitrix24 request timed out after {self.timeout:g} s: {masked}", url=masked, timeout=True
            )
        except requests.RequestException as exc:
            error = Bitrix24TransportError(f"Bitrix24 request failed ({exc.__class__.__name__}): {masked}", url=masked)
        else:
            try:
                payload = (
                    check_stream(response, masked, self.mask) if stream else parse_json(response, masked, self.mask)
                )
            except Bitrix24Error:
                response.close()
                raise
            return response, payload
        # Raised outside the except clauses: the requests exception, whose text carries the raw URL, is not chained.
        raise error


def _batch_body(payload: dict[str, Any]) -> BatchResult:
    body = payload.get("result")
    if not isinstance(body, dict):
        raise Bitrix24PayloadError("Unexpected Bitrix24 payload: batch without result")
    return batch_result_from(body)
