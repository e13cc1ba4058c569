"""Request id propagation and per-route HTTP metrics."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from mastermobile.observability import metrics
from mastermobile.observability.context import accept_request_id, idempotency_key_var, request_id_var, user_role_var

REQUEST_ID_HEADER = "X-Request-Id"


class RequestIdMiddleware:
    """Echo a valid client ``X-Request-Id`` or generate one (PLAT-20).

    The id is stored on the request and in a context variable so that every
    log line of the request carries it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = accept_request_id(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id  # type: ignore[attr-defined]  # for code that has the request, not the context
        tokens = (
            request_id_var.set(request_id),
            user_role_var.set(None),
            idempotency_key_var.set(None),
        )
        try:
            response = self.get_response(request)
        finally:
            for var, token in zip((request_id_var, user_role_var, idempotency_key_var), tokens, strict=True):
                var.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


class HttpMetricsMiddleware:
    """``http_requests_total`` and ``http_request_duration_seconds`` by route template (PLAT-53)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        # The route template keeps label cardinality bounded; unmatched paths
        # (404s, scanners) share one label, also those the /api/ catch-all answers.
        route = match.route if match is not None and match.url_name != "api-unknown-path" else ""
        path = "/" + route if route else "<unmatched>"
        labels = {"method": request.method, "status_code": str(response.status_code), "path": path}
        metrics.HTTP_REQUESTS.labels(**labels).inc()
        metrics.HTTP_REQUEST_DURATION.labels(**labels).observe(time.perf_counter() - started)
        return response
