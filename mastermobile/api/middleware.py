"""Request-body limit for the API (PLAT-70: JSON bodies up to 2 MB)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import BinaryIO

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from mastermobile.api.errors import problem_response

READ_SIZE = 64 * 1024
# Many clients (Python's http.client, requests, most ERP HTTP libraries) read
# the answer only once they have sent the whole body.  If the server answers
# 413 and closes while they are still sending, they see a broken pipe, not the
# 413.  So the rest of a refused body is read and dropped, up to this much;
# past it the connection is just closed.
DISCARD_AT_MOST = 16 * 1024 * 1024


class BodySizeLimitMiddleware:
    """Refuse an oversized API body with 413 before anything parses it.

    DRF streams the body into its parser without Django's
    ``DATA_UPLOAD_MAX_MEMORY_SIZE`` check, so the limit is applied here: on
    the declared length, or, for a chunked body (``Transfer-Encoding:
    chunked``, no ``Content-Length``), on what arrives.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            limit = settings.MAX_JSON_BODY_BYTES
            if is_chunked(request):
                stream = request.META["wsgi.input"]  # META is the WSGI environ
                body = read_at_most(stream, limit + 1)
                if len(body) > limit:
                    discard(stream, DISCARD_AT_MOST)
                    return problem_response(
                        "payload-too-large", f"The chunked request body is over the limit of {limit} bytes."
                    )
                hand_over_body(request, body)
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return problem_response("bad-request", "The Content-Length header is not a number.")
            if length > limit:
                if length <= DISCARD_AT_MOST:
                    discard(request, length)
                return problem_response(
                    "payload-too-large", f"The request body is {length} bytes; the limit is {limit} bytes."
                )
        return self.get_response(request)


def is_chunked(request: HttpRequest) -> bool:
    """A WSGI body without Content-Length, which Django would read as empty (it reads CONTENT_LENGTH bytes).

    gunicorn decodes the chunks; ``wsgi.input`` yields the body and then ends.
    """
    transfer_encoding = request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
    return (
        "chunked" in transfer_encoding
        and not request.META.get("CONTENT_LENGTH")
        and "wsgi.input" in getattr(request, "environ", {})
    )


def read_at_most(stream: BinaryIO, size: int) -> bytes:
    """Up to ``size`` bytes of ``stream``; fewer only at its end (a WSGI input may return short reads)."""
    chunks: list[bytes] = []
    received = 0
    while received < size:
        chunk = stream.read(min(READ_SIZE, size - received))
        if not chunk:
            break
        chunks.append(chunk)
        received += len(chunk)
    return b"".join(chunks)


def discard(stream: BinaryIO | HttpRequest, at_most: int) -> None:
    """Read and drop up to ``at_most`` bytes the client is still sending."""
    remaining = at_most
    while remaining > 0:
        chunk = stream.read(min(READ_SIZE, remaining))
        if not chunk:
            return
        remaining -= len(chunk)


def hand_over_body(request: HttpRequest, body: bytes) -> None:
    """Give Django (and DRF, which trusts CONTENT_LENGTH) the body already read, as if it had been declared."""
    request.META["CONTENT_LENGTH"] = str(len(body))
    # The stream Django reads the body from; HttpRequest.body leaves the same behind.
    request._stream = io.BytesIO(body)
