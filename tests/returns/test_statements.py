"""What one write costs the database, counted as the server sees it: BEGIN and COMMIT included (issue 9).

These tests run outside pytest-django's wrapping transaction, so the write
path's own transaction is a real BEGIN … COMMIT and not a savepoint.  Counted
for a caller the throttle has seen in this window (``throttle_queries``: one
UPDATE on the database store, none on Redis).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.returns.conftest import URL, new_key, send

pytestmark = pytest.mark.django_db(transaction=True)

# BEGIN, the key's claim, the return and its history row, the lines and theirs (one multi-row INSERT
# each), the return.created event, the stored response, the audit row, COMMIT.
CREATE_STATEMENTS = 10


def statements_of(request) -> tuple[Any, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = request()
    statements = [query["sql"] for query in queries.captured_queries]
    return response, statements


def kinds(statements: list[str]) -> list[str]:
    return [sql.split(None, 1)[0].upper() for sql in statements]


@pytest.mark.parametrize("lines", [1, 50])
def test_a_create_is_one_transaction_with_a_fixed_number_of_statements(
    admin_api, body, lines, throttle_queries, enqueue_queries
):
    body["order_id_1c"] = None  # no sale to check against (C1-03 adds its order lookup)
    body["items"] = [
        {"sku": f"SKU-{index}", "qty": 1, "quality": "new", "reason_code": "bulk"} for index in range(lines)
    ]
    admin_api.get(URL)  # the caller's throttle bucket exists, as after its first request

    response, statements = statements_of(lambda: send(admin_api, "post", URL, body, key=new_key()))

    assert response.status_code == 201
    assert len(response.json()["items"]) == lines
    assert len(statements) == throttle_queries + CREATE_STATEMENTS + enqueue_queries, statements
    assert kinds(statements).count("BEGIN") == 1
    assert kinds(statements).count("COMMIT") == 1
    assert "SAVEPOINT" not in kinds(statements)
    assert "SELECT" not in kinds(statements)  # nothing read back


def test_a_create_of_a_known_order_adds_only_the_sale_check(admin_api, body, throttle_queries, enqueue_queries):
    admin_api.get(URL)

    response, statements = statements_of(lambda: send(admin_api, "post", URL, body, key=new_key()))

    assert response.status_code == 201
    assert len(statements) == throttle_queries + CREATE_STATEMENTS + 1 + enqueue_queries, statements
    assert kinds(statements).count("COMMIT") == 1


def test_a_replay_reads_the_stored_answer_and_writes_nothing(admin_api, body, throttle_queries):
    key = new_key()
    send(admin_api, "post", URL, body, key=key)

    response, statements = statements_of(lambda: send(admin_api, "post", URL, body, key=key))

    assert response["Idempotent-Replayed"] == "true"
    # The claim's INSERT is refused (BEGIN, INSERT, ROLLBACK), then the stored record is read.
    assert kinds(statements)[throttle_queries:] == ["BEGIN", "INSERT", "ROLLBACK", "SELECT"], statements


def test_a_refused_create_rolls_back_its_claim_and_leaves_one_audit_row(admin_api, body, throttle_queries):
    body["items"][0]["qty"] = 0
    admin_api.get(URL)

    response, statements = statements_of(lambda: send(admin_api, "post", URL, body, key=new_key()))

    assert response.status_code == 422
    assert kinds(statements)[throttle_queries:] == ["BEGIN", "INSERT", "ROLLBACK", "INSERT"], statements
