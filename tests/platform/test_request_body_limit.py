"""The JSON body limit (PLAT-70) holds under gunicorn for declared and for chunked bodies.

A chunked body has no Content-Length; without the middleware reading it, Django
saw an empty body and a 3.7 MB request got 422 "field required" instead of 413.
"""

from __future__ import annotations

import http.client
import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from mastermobile.api.authentication import issue_token
from tests.processes import GUNICORN, free_port, http_get, manage, process_env, running

pytestmark = pytest.mark.slow

LIMIT = 2 * 1024 * 1024
JWT_SECRET = "body-limit-test-" + "0123456789abcdef" * 2
SMALL_RETURN = {
    "source": "warehouse",
    "courier_id": "courier-001",
    "items": [{"sku": "SKU-1001", "qty": 1, "quality": "new", "reason_code": "customer_changed_mind"}],
}
# The issue's 3.7 MB, and 12 MB: more than loopback socket buffers hold, so
# http.client (which reads only after sending everything) finishes sending
# only because the server reads the refused body to its end.
OVERSIZED = pytest.mark.parametrize("size", [3_700_000, 12_000_000], ids=["3.7MB", "12MB"])


def oversized_return(size: int) -> dict:
    return {**SMALL_RETURN, "comment": "x" * size}


@pytest.fixture(scope="module")
def server_port(tmp_path_factory) -> Iterator[int]:
    port = free_port()
    env = process_env(
        DATABASE_URL=f"sqlite:///{tmp_path_factory.mktemp('body-limit') / 'db.sqlite3'}",
        JWT_SECRET=JWT_SECRET,
        MAX_JSON_BODY_BYTES=str(LIMIT),
        LOG_LEVEL="WARNING",
    )
    migrated = manage("migrate", "--noinput", env=env)
    assert migrated.returncode == 0, migrated.stderr
    with running([*GUNICORN, "--bind", f"127.0.0.1:{port}", "--workers", "1"], env=env):
        http_get(f"http://127.0.0.1:{port}/health")
        yield port


def in_pieces(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def post_return(port: int, payload: dict, *, chunked: bool) -> tuple[int, str | None, Any]:
    token = issue_token(
        subject="ops-admin", role="admin", lifetime=timedelta(minutes=5), secret=JWT_SECRET, issuer="mastermobile"
    )
    body = json.dumps(payload).encode()
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Idempotency-Key": str(uuid.uuid4()),
    }
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        if chunked:
            # An iterator body without Content-Length: http.client sends it chunked.
            connection.request("POST", "/api/v1/returns", body=in_pieces(body), headers=headers, encode_chunked=True)
        else:
            connection.request("POST", "/api/v1/returns", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type"), json.loads(response.read())
    finally:
        connection.close()


@OVERSIZED
def test_a_chunked_body_over_the_limit_is_413(server_port, size):
    status, content_type, problem = post_return(server_port, oversized_return(size), chunked=True)

    assert status == 413
    assert content_type == "application/problem+json"
    assert problem["type"] == "https://api.mastermobile.app/errors/payload-too-large"
    assert str(LIMIT) in problem["detail"]


def test_a_small_chunked_body_creates_the_return(server_port):
    status, content_type, created = post_return(server_port, SMALL_RETURN, chunked=True)

    assert status == 201, created
    assert content_type == "application/json"
    assert created["courier_id"] == "courier-001"
    assert [item["sku"] for item in created["items"]] == ["SKU-1001"]


@OVERSIZED
def test_a_declared_length_over_the_limit_is_still_413(server_port, size):
    payload = oversized_return(size)

    status, content_type, problem = post_return(server_port, payload, chunked=False)

    assert status == 413
    assert content_type == "application/problem+json"
    assert problem["detail"] == f"The request body is {len(json.dumps(payload))} bytes; the limit is {LIMIT} bytes."
