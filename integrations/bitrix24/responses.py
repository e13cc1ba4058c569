"""Shapes of Bitrix24 answers and the rules that turn an HTTP answer into a result or a typed error.

B24-04, B24-05, B24-08, B24-09 and B24-13.  Every text that can reach an
exception goes through the ``mask`` callable the client passes in, so the
webhook token never leaves :class:`~integrations.bitrix24.client.Bitrix24Client`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from integrations.bitrix24.errors import (
    Bitrix24AuthError,
    Bitrix24HTTPError,
    Bitrix24MethodNotFound,
    Bitrix24PayloadError,
    Bitrix24RateLimited,
)
from integrations.headers import retry_after_header_seconds

Mask = Callable[[str], str]

RATE_LIMIT_ERRORS = frozenset({"QUERY_LIMIT_EXCEEDED", "OPERATION_TIME_LIMIT"})
AUTH_ERRORS = frozenset(
    {"expired_token", "INVALID_CREDENTIALS", "NO_AUTH_FOUND", "insufficient_scope", "ACCESS_DENIED"}
)
METHOD_NOT_FOUND = "ERROR_METHOD_NOT_FOUND"


@dataclass(frozen=True)
class CallPage:
    """One ``voximplant.statistic.get`` page: items from offset ``start``, the ``next`` offset and ``total``."""

    start: int
    items: list[dict[str, Any]]
    next: int | None
    total: int | None


@dataclass(frozen=True)
class BatchResult:
    """``result.result`` / ``result_error`` / ``result_total`` / ``result_next`` of a ``batch`` answer."""

    results: dict[str, Any]
    errors: dict[str, Any]
    total: dict[str, Any]
    next: dict[str, Any]


def page_from(start: int, result: Any, next_offset: Any, total: Any) -> CallPage:
    """A :class:`CallPage` from the raw ``result``/``next``/``total``; items that are not objects are dropped."""
    items = [item for item in result if isinstance(item, dict)] if isinstance(result, list) else []
    return CallPage(start=start, items=items, next=as_int(next_offset), total=as_int(total))


def batch_result_from(body: dict[str, Any]) -> BatchResult:
    return BatchResult(
        results=as_dict(body.get("result")),
        errors=as_dict(body.get("result_error")),
        total=as_dict(body.get("result_total")),
        next=as_dict(body.get("result_next")),
    )


def as_dict(value: Any) -> dict[str, Any]:
    # Bitrix24 encodes an empty object as [] in batch answers.
    return value if isinstance(value, dict) else {}


def as_int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def recording_url_of(item: dict[str, Any]) -> str | None:
    """``CALL_RECORD_URL``, falling back to ``RECORD_URL`` (B24-04)."""
    url = item.get("CALL_RECORD_URL") or item.get("RECORD_URL")
    return str(url).strip() or None if url else None


# HTTP answers ---------------------------------------------------------------


def parse_json(response: requests.Response, masked_url: str, mask: Mask) -> dict[str, Any]:
    """The JSON object of a successful REST answer, or the typed error it stands for (B24-09)."""
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
            body=body_text(response, mask),
        )
    raise http_error(response, body if isinstance(body, dict) else {}, masked_url, mask)


def check_stream(response: requests.Response, masked_url: str, mask: Mask) -> dict[str, Any]:
    """Nothing for a 200 recording stream; otherwise the typed error, with 403/404 not retryable (B24-12)."""
    if response.status_code == 200:
        return {}
    try:
        body = response.json() if "json" in response.headers.get("Content-Type", "") else {}
    except ValueError:
        body = {}
    error = http_error(response, body if isinstance(body, dict) else {}, masked_url, mask)
    if response.status_code in (403, 404):
        # CALL-16: a missing recording is retried across task attempts, not here.
        error = Bitrix24HTTPError(str(error), url=masked_url, status_code=response.status_code, body=error.body)
    raise error


def http_error(response: requests.Response, body: dict[str, Any], masked_url: str, mask: Mask) -> Bitrix24HTTPError:
    """The typed error for a failed answer: rate limit, authentication, unknown method or plain HTTP."""
    status = response.status_code
    code = str(body.get("error") or "") or None
    description = mask(str(body.get("error_description") or "")) or None
    text = body_text(response, mask)
    detail = f"Bitrix24 {status}{f' {code}' if code else ''}{f': {description}' if description else ''} ({masked_url})"
    kwargs: dict[str, Any] = {
        "url": masked_url,
        "status_code": status,
        "error": code,
        "description": description,
        "body": text,
        "retry_after": retry_after_header_seconds(response.headers.get("Retry-After")),
    }
    if code in RATE_LIMIT_ERRORS or status == 429:
        return Bitrix24RateLimited(detail, **kwargs)
    if code in AUTH_ERRORS or status in (401, 403):
        return Bitrix24AuthError(detail, **kwargs)
    if code == METHOD_NOT_FOUND:
        return Bitrix24MethodNotFound(detail, **kwargs)
    return Bitrix24HTTPError(detail, retryable=status >= 500, **kwargs)


def body_text(response: requests.Response, mask: Mask) -> str:
    """The first 2000 characters of the answer, masked."""
    try:
        text = response.text[:2000]
    except (requests.RequestException, UnicodeDecodeError):
        text = ""
    return mask(text)
