"""OPTIONS on every route answers without a server error, for anyone (issue 8)."""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import Resolver404, URLPattern, URLResolver, get_resolver, resolve
from django.utils.regex_helper import normalize

pytestmark = pytest.mark.django_db

SAMPLE_UUID = str(uuid.UUID(int=1))
# Values tried for a path parameter until the path resolves to the route under test.
SAMPLES = ("1", SAMPLE_UUID, "returns", "x")


def leaf_routes(patterns, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    """(full regex, pattern) for every route of the URLconf, includes flattened."""
    for pattern in patterns:
        regex = prefix + pattern.pattern.regex.pattern.lstrip("^")
        if isinstance(pattern, URLResolver):
            yield from leaf_routes(pattern.url_patterns, regex)
        else:
            yield regex, pattern


def templates(regex: str) -> list[tuple[str, list[str]]]:
    """Django's own reversal of ``regex``; for what it cannot reverse (``(?:/|$)``), the regex without its syntax."""
    found = [(template, params) for template, params in normalize(regex) if template]
    return found or [(re.sub(r"\(\?:[^)]*\)|[\^$\\]|\\Z", "", regex), [])]


def sample_path(regex: str, pattern: URLPattern) -> str:
    """A path that resolves to ``pattern``, its parameters filled with sample values."""
    for template, params in templates(regex):
        for values in itertools.product(SAMPLES, repeat=len(params)):
            path = "/" + template % dict(zip(params, values, strict=True))
            try:
                match = resolve(path)
            except Resolver404:
                continue
            if match.func is pattern.callback or getattr(match.func, "__wrapped__", None) is pattern.callback:
                return path
    raise AssertionError(f"no sample path resolves to {regex!r}")


ROUTES = sorted({sample_path(regex, pattern) for regex, pattern in leaf_routes(get_resolver().url_patterns)})


def test_every_route_of_the_urlconf_gets_a_sample_path():
    assert {"/api/docs/", "/api/redoc/", "/api/v1/returns", f"/api/v1/call-exports/{SAMPLE_UUID}"} <= set(ROUTES)
    assert len(ROUTES) > 90  # the admin's pages included


def server_errors(client: Client) -> dict[str, int]:
    """OPTIONS on every route; the paths answered with a 5xx, and their status."""
    client.raise_request_exception = False
    statuses = {path: client.options(path).status_code for path in ROUTES}
    return {path: status for path, status in statuses.items() if status >= 500}


def test_options_without_credentials_is_never_a_server_error():
    assert server_errors(Client()) == {}


def test_options_with_a_staff_session_is_never_a_server_error(admin_client):
    assert server_errors(admin_client) == {}


def test_options_with_an_admin_token_is_never_a_server_error(client_for):
    assert server_errors(client_for("admin", "ops-admin")) == {}


@pytest.mark.parametrize("page", ["/api/docs/", "/api/redoc/"])
def test_options_on_a_docs_page_lists_the_allowed_methods(page):
    response = Client().options(page)

    assert response.status_code == 200
    assert "GET" in response["Allow"]
    assert response.content == b""
