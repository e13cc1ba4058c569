"""problem+json (RFC 9457) for every API error, in one place (PLAT-30…33).

Services raise domain exceptions; DRF, Django and our own API exceptions all
end here and leave as ``application/problem+json`` with the request id.  A
browser that negotiated the browsable API sees the same problem on its HTML
page instead.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from mastermobile.errors import DomainError
from mastermobile.observability.context import current_request_id

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "https://api.mastermobile.app/errors/"

# slug -> (status, title); docs/errors.md describes each one.
PROBLEM_TYPES: dict[str, tuple[int, str]] = {
    "bad-request": (400, "Bad request"),
    "validation": (422, "Validation failed"),
    "unauthorized": (401, "Authentication required"),
    "forbidden": (403, "Forbidden"),
    "not-found": (404, "Not found"),
    "method-not-allowed": (405, "Method not allowed"),
    "not-acceptable": (406, "Not acceptable"),
    "conflict": (409, "Conflict"),
    "invalid-transition": (422, "Status change not allowed"),
    "idempotency-key-reused": (409, "Idempotency-Key reused with a different payload"),
    "idempotency-in-progress": (409, "Request with this Idempotency-Key is in progress"),
    "payload-too-large": (413, "Payload too large"),
    "unsupported-media-type": (415, "Unsupported media type"),
    "rate-limited": (429, "Too many requests"),
    "internal": (500, "Internal server error"),
    "service-unavailable": (503, "Service unavailable"),
}


class ProblemError(exceptions.APIException):
    """An API error with an explicit problem type; raise it from views and helpers."""

    def __init__(
        self,
        problem_type: str,
        detail: str | None = None,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ):
        self.problem_type = problem_type
        self.status_code, title = PROBLEM_TYPES[problem_type]
        self.errors = errors or []
        self.headers = headers or {}
        super().__init__(detail or title)


class BadQueryParameter(ProblemError):
    """A query parameter that cannot be used (400 naming the parameter)."""

    def __init__(self, name: str, message: str):
        super().__init__(
            "bad-request", f"Invalid query parameter '{name}': {message}", errors=[{"field": name, "message": message}]
        )


def problem_body(
    problem_type: str, detail: str, *, status_code: int | None = None, errors: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    default_status, title = PROBLEM_TYPES[problem_type]
    return {
        "type": TYPE_BASE + problem_type,
        "title": title,
        "status": status_code or default_status,
        "detail": detail,
        "request_id": current_request_id(),
        "errors": errors or [],
    }


def problem_response(problem_type: str, detail: str, **kwargs: Any) -> JsonResponse:
    """A plain Django response, for middleware and Django's own handlers."""
    headers = kwargs.pop("headers", None) or {}
    body = problem_body(problem_type, detail, **kwargs)
    response = JsonResponse(
        body, status=body["status"], content_type=PROBLEM_CONTENT_TYPE, json_dumps_params={"ensure_ascii": False}
    )
    for name, value in headers.items():
        response[name] = value
    return response


def flatten_errors(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    """Turn DRF's nested error dict into ``[{field: "items[0].qty", message}]``."""
    if isinstance(detail, dict):
        flat: list[dict[str, str]] = []
        for key, value in detail.items():
            if key in ("non_field_errors", "__all__"):
                field = prefix
            else:
                field = f"{prefix}.{key}" if prefix else str(key)
            flat.extend(flatten_errors(value, field))
        return flat
    if isinstance(detail, list):
        if detail and all(isinstance(item, (str, exceptions.ErrorDetail)) for item in detail):
            return [{"field": prefix, "message": str(item)} for item in detail]
        flat = []
        for index, item in enumerate(detail):
            if item in ({}, [], None):
                continue
            flat.extend(flatten_errors(item, f"{prefix}[{index}]"))
        return flat
    return [{"field": prefix, "message": str(detail)}]


_DRF_TYPES: list[tuple[type[Exception], str]] = [
    (exceptions.ParseError, "bad-request"),
    (exceptions.NotAuthenticated, "unauthorized"),
    (exceptions.AuthenticationFailed, "unauthorized"),
    (exceptions.PermissionDenied, "forbidden"),
    (exceptions.NotFound, "not-found"),
    (exceptions.MethodNotAllowed, "method-not-allowed"),
    (exceptions.NotAcceptable, "not-acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported-media-type"),
    (exceptions.Throttled, "rate-limited"),
]


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF ``EXCEPTION_HANDLER``: every exception becomes problem+json."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DomainError):
        exc = ProblemError(exc.problem_type, str(exc), errors=exc.errors)
    elif isinstance(exc, DjangoValidationError):
        # A model's full_clean() or a validator called by a service: the same 422 as a serializer's.
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)

    headers: dict[str, str] = {}
    errors: list[dict[str, str]] = []
    if isinstance(exc, ProblemError):
        problem_type, detail, errors, headers = exc.problem_type, str(exc.detail), exc.errors, dict(exc.headers)
        status_code = exc.status_code
    elif isinstance(exc, exceptions.ValidationError):
        problem_type, status_code = "validation", status.HTTP_422_UNPROCESSABLE_ENTITY
        errors = flatten_errors(exc.detail)
        fields = ", ".join(dict.fromkeys(e["field"] or "body" for e in errors))
        detail = f"Invalid fields: {fields}" if fields else "The request body is invalid."
    elif isinstance(exc, exceptions.APIException):
        problem_type = next((slug for cls, slug in _DRF_TYPES if isinstance(exc, cls)), "bad-request")
        status_code = exc.status_code
        detail = str(exc.detail) if not isinstance(exc.detail, (dict, list)) else PROBLEM_TYPES[problem_type][1]
        # Throttled.wait (seconds, or None) is set in its __init__, which the stubs do not declare.
        wait: float | None = getattr(exc, "wait", None) if isinstance(exc, exceptions.Throttled) else None
        if wait is not None:
            headers["Retry-After"] = str(max(1, int(wait + 0.999)))
        auth_header = getattr(exc, "auth_header", None)
        if auth_header:
            headers["WWW-Authenticate"] = auth_header
    else:
        # Unexpected: log with the traceback, answer without it.
        request = context.get("request")
        logger.exception(
            "api.unhandled_exception",
            extra={"event": "api.unhandled_exception", "path": getattr(request, "path", None)},
        )
        problem_type, status_code = "internal", 500
        detail = f"An unexpected error occurred. Quote request id {current_request_id()} when reporting it."

    if status_code == 401 and "WWW-Authenticate" not in headers:
        headers["WWW-Authenticate"] = 'Bearer realm="api"'
    body = problem_body(problem_type, detail, status_code=status_code, errors=errors)
    # DRF renders this with the renderer negotiated for the request.  The
    # browsable API's page must go out as text/html or the browser shows its
    # markup as text; everything else is JSON and labelled as a problem.
    renderer = getattr(context.get("request"), "accepted_renderer", None)
    content_type = None if isinstance(renderer, BrowsableAPIRenderer) else PROBLEM_CONTENT_TYPE
    return Response(body, status=status_code, headers=headers, content_type=content_type)


class ProblemJSONContentNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, reading ``application/problem+json`` in ``Accept`` as JSON.

    Without this, a client that accepts only problem+json would get 406 for
    every request instead of the error it is prepared to read.
    """

    def get_accept_list(self, request: Request) -> list[str]:
        accept_list = []
        for media_type in super().get_accept_list(request):
            accept_list.append(media_type)
            if media_type.split(";")[0].strip() == PROBLEM_CONTENT_TYPE:
                accept_list.append("application/json")
        return accept_list


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def handler500(request: HttpRequest):
    """Django's 500 handler: problem+json under /api/ (DRF views answer their own errors), the normal page elsewhere."""
    if _is_api(request):
        return problem_response(
            "internal", f"An unexpected error occurred. Quote request id {current_request_id()} when reporting it."
        )
    from django.views.defaults import server_error

    return server_error(request)
