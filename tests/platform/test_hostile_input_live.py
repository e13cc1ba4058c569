"""Issue 8's input and token probes, over HTTP, against gunicorn with APP_ENV=production.

The server has its own database of the suite's kind: a SQLite file, or on
PostgreSQL a database named after the test database with ``_live`` appended,
created and dropped here.  Every probe must be a 4xx problem, none a 5xx.
"""

from __future__ import annotations

import http.client
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from tests.processes import GUNICORN, free_port, http_get, manage, process_env, running, scratch_database

pytestmark = pytest.mark.slow

JWT_SECRET = "live-probe-secret-" + "0123456789abcdef" * 2
ISSUER = "mastermobile"
RETURN = {
    "source": "warehouse",
    "courier_id": "courier-001",
    "items": [{"sku": "SKU-1001", "qty": 1, "quality": "new", "reason_code": "customer_changed_mind"}],
}


def token(role: str = "admin", sub: str = "ops-admin", lifetime: timedelta = timedelta(minutes=5)) -> str:
    now = datetime.now(UTC)
    claims = {"iss": ISSUER, "sub": sub, "role": role, "iat": now, "exp": now + lifetime}
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


@pytest.fixture(scope="module")
def database_url(tmp_path_factory, django_db_setup) -> Iterator[str]:
    with scratch_database("live", tmp_path_factory.mktemp("live-probes")) as url:
        yield url


@pytest.fixture(scope="module")
def server(database_url) -> Iterator[tuple[str, int]]:
    port = free_port()
    env = process_env(
        APP_ENV="production",
        DATABASE_URL=database_url,
        DJANGO_SECRET_KEY="live-probe-django-key-" + "x" * 40,
        JWT_SECRET=JWT_SECRET,
        B24_WEBHOOK_TOKEN="live-probe-webhook-token",
        ALLOWED_HOSTS="127.0.0.1",
        LOG_LEVEL="WARNING",
    )
    for step in (["migrate", "--noinput"], ["seed_demo"]):
        result = manage(*step, env=env)
        assert result.returncode == 0, result.stderr
    with running([*GUNICORN, "--bind", f"127.0.0.1:{port}", "--workers", "1"], env=env):
        http_get(f"http://127.0.0.1:{port}/health")
        yield "127.0.0.1", port


def call(server: tuple[str, int], method: str, path: str, body: str | None = None, *, bearer: str | None = None):
    """(status, parsed JSON body or None) of one request; writes carry a fresh Idempotency-Key."""
    headers = {"Authorization": f"Bearer {bearer or token()}", "Idempotency-Key": str(uuid.uuid4())}
    if body is not None:
        headers["Content-Type"] = "application/json"
    host, port = server
    connection = http.client.HTTPConnection(host, port, timeout=60)
    try:
        connection.request(method, path, body=body.encode() if body is not None else None, headers=headers)
        response = connection.getresponse()
        raw = response.read()
        is_json = "json" in (response.getheader("Content-Type") or "")
        return response.status, json.loads(raw) if is_json and raw else None
    finally:
        connection.close()


def fields(problem: dict) -> list[str]:
    return [error["field"] for error in problem["errors"]]


@pytest.mark.parametrize(
    "query",
    ["created_to=1964-07-16T12:21:46-18:10", "created_from=0001-01-01T00:00:00%2B01:00", "created_to=2024-05-01"],
)
def test_an_unusable_date_filter_is_400_naming_it(server, query):
    status, problem = call(server, "GET", f"/api/v1/returns?{query}")

    assert status == 400
    assert fields(problem) == [query.split("=")[0]]


@pytest.mark.parametrize("path", ["/api/v1/returns", "/api/v1/call-exports"])
def test_a_body_nested_ten_thousand_deep_is_400(server, path):
    status, problem = call(server, "POST", path, "[" * 10_000 + "]" * 10_000)

    assert status == 400
    assert "nesting too deep" in problem["detail"]


def test_a_lone_surrogate_is_422_naming_the_field(server):
    status, problem = call(server, "POST", "/api/v1/returns", json.dumps(RETURN)[:-1] + ', "comment": "\\ud800"}')

    assert status == 422
    assert fields(problem) == ["comment"]


def test_a_nul_in_a_field_is_422(server):
    status, problem = call(server, "POST", "/api/v1/returns", json.dumps({**RETURN, "comment": "+79161234567\x00"}))

    assert status == 422
    assert fields(problem) == ["comment"]


def test_a_write_to_a_path_with_a_nul_is_404(server):
    status, _ = call(server, "DELETE", "/api/v1/returns/%00")

    assert status == 404


def test_the_longest_cursor_the_schema_allows_reaches_the_api_whatever_its_characters(server):
    # 512 four-byte characters, 6 KB percent-encoded: over gunicorn's default request-line limit.
    status, problem = call(
        server, "GET", "/api/v1/ww/export/kmp4?cursor=" + "%F0%9F%93%A6" * 512, bearer=token("1c", "1c-main")
    )

    assert status == 400
    assert problem is not None and fields(problem) == ["cursor"]


def test_a_call_export_with_an_unknown_field_is_422_naming_it(server):
    body = {"period_from": "0070-01-01T00:00:00Z", "period_to": "2026-01-01T00:00:00Z", "junk": 1}

    status, problem = call(server, "POST", "/api/v1/call-exports", json.dumps(body))

    assert status == 422
    assert fields(problem) == ["junk"]


def test_a_call_export_from_year_70_is_422(server):
    body = {"period_from": "0070-01-01T00:00:00Z", "period_to": "2026-01-01T00:00:00Z"}

    status, problem = call(server, "POST", "/api/v1/call-exports", json.dumps(body))

    assert status == 422
    assert fields(problem) == ["period_from"]


def test_options_on_the_docs_page_is_200(server):
    status, _ = call(server, "OPTIONS", "/api/docs/")

    assert status == 200


@pytest.mark.parametrize(
    "bearer",
    [
        token(sub=""),
        token(lifetime=timedelta(days=36500)),
        token(role="courier", sub="courier-404"),
    ],
    ids=["blank-sub", "hundred-years", "unknown-courier"],
)
def test_a_token_outside_the_policy_is_401(server, bearer):
    status, problem = call(server, "POST", "/api/v1/returns", json.dumps(RETURN), bearer=bearer)

    assert status == 401
    assert problem["type"].endswith("/unauthorized")


def test_a_seeded_courier_creates_its_return(server):
    status, body = call(
        server, "POST", "/api/v1/returns", json.dumps(RETURN), bearer=token(role="courier", sub="courier-001")
    )

    assert status == 201
    assert body["created_at"].endswith("Z") and len(body["created_at"].split("-")[0]) == 4
