"""HTTP helpers Django does not ship: the caller's address, byte ranges over any file-like object (RFC 9110 §14),
and the refusal of paths no page can have.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import IO

from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse

CHUNK_BYTES = 64 * 1024
_SINGLE_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def client_address(request: HttpRequest) -> str | None:
    """The address of the peer that opened the connection (``REMOTE_ADDR``), as gunicorn reports it.

    ``X-Forwarded-For`` and similar headers are ignored: any client can send
    them, and nothing in this project names a trusted proxy.  Behind a
    reverse proxy every request therefore comes from the proxy's address;
    login throttling and the metrics allow-list count it as one client.
    """
    return request.META.get("REMOTE_ADDR") or None


class NulInPathMiddleware:
    """Outside the API, a path with a NUL character (``%00``) names nothing: 404 before any view.

    Every id in a URL ends up as a query parameter, and PostgreSQL refuses a
    NUL character in text outright (a ``DataError``, so a 500: the admin's
    change, history and delete pages of text primary keys), where SQLite just
    finds no row.  The API's views check their path ids themselves, after
    authentication (UUIDs, ``couriers.api.views.WarehouseView``), so that a
    caller without a valid token still gets 401 first.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path and not request.path.startswith("/api/"):
            raise Http404("No page has a NUL character in its path.")
        return self.get_response(request)


class _Unsatisfiable(Exception):
    """The range lies outside the file (416)."""


def _requested_range(header: str, size: int) -> tuple[int, int] | None:
    """``(first, last)`` of a single byte range, or None to answer the whole file; raises when unsatisfiable."""
    match = _SINGLE_RANGE.match(header.strip())
    if not match or match.groups() == ("", ""):
        return None  # malformed or multi-range: answer the whole file, as RFC 9110 allows
    first_text, last_text = match.groups()
    if first_text == "":
        suffix = int(last_text)
        if suffix == 0:
            raise _Unsatisfiable
        return max(0, size - suffix), size - 1
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    if first >= size or last < first:
        raise _Unsatisfiable
    return first, min(last, size - 1)


def _read(handle: IO[bytes], remaining: int) -> Iterator[bytes]:
    try:
        while remaining > 0:
            chunk = handle.read(min(CHUNK_BYTES, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk
    finally:
        handle.close()


def ranged_file_response(
    request: HttpRequest, handle: IO[bytes], *, size: int, content_type: str
) -> HttpResponse | StreamingHttpResponse:
    """200 with the whole file, or 206 with the one byte range asked for, or 416; ``handle`` is closed after.

    Browsers' ``<audio>`` elements seek by asking for ranges; without a 206
    they cannot jump into a long call.
    """
    response: HttpResponse | StreamingHttpResponse
    try:
        wanted = _requested_range(request.headers["Range"], size) if "Range" in request.headers else None
    except _Unsatisfiable:
        handle.close()
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    if wanted is None:
        first, last, status = 0, size - 1, 200
    else:
        first, last = wanted
        status = 206
    handle.seek(first)
    response = StreamingHttpResponse(_read(handle, last - first + 1), status=status, content_type=content_type)
    response["Content-Length"] = str(max(0, last - first + 1))
    response["Accept-Ranges"] = "bytes"
    if status == 206:
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
    return response
