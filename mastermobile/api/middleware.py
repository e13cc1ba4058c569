"""Request-body limit for the API (PLAT-70: JSON bodies up to 2 MB)."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from mastermobile.api.errors import problem_response


class BodySizeLimitMiddleware:
    """Refuse an oversized API body with 413 before anything reads it.

    DRF streams the body into its parser without Django's
    ``DATA_UPLOAD_MAX_MEMORY_SIZE`` check, so the limit is applied here on the
    declared length.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            limit = settings.MAX_JSON_BODY_BYTES
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return problem_response("bad-request", "The Content-Length header is not a number.")
            if length > limit:
                return problem_response(
                    "payload-too-large", f"The request body is {length} bytes; the limit is {limit} bytes."
                )
        return self.get_response(request)
