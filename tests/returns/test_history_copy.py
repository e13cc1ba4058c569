"""History rows copied by the database (``mastermobile.history.copy_to_history``) are simple_history's rows.

A return and its lines are written once through the service (history
copied with ``INSERT … SELECT``) and once through plain ``save()`` calls,
where simple_history builds the rows itself; both histories must hold the
same values in every column but the ids and the time.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from simple_history.models import HistoricalRecords

from mastermobile.api.authentication import MAX_SUBJECT_LENGTH
from mastermobile.history import copy_to_history
from returns import services
from returns.models import Return, ReturnLine
from tests.returns.conftest import URL, detail_url, new_key, send

pytestmark = pytest.mark.django_db

ITEMS: list[services.LineData] = [
    {"sku": "SKU-1", "qty": 1, "quality": "new", "reason_code": "changed_mind"},
    {
        "sku": "SKU-2",
        "qty": 3,
        "quality": "defect",
        "reason_code": "broken",
        "reason_note": "Трещина «экрана»",
        "photos": ["p-1", "p-2"],
        "imei": "356938035643809",
        "serial": "SN-9",
    },
]
IGNORED = {"history_id", "history_date", "id"}


def _values(history_row: Any) -> dict[str, Any]:
    return {
        field.attname: getattr(history_row, field.attname)
        for field in type(history_row)._meta.concrete_fields
        if field.attname not in IGNORED
    }


def _by_simple_history(reason: str, **header: Any) -> Return:
    """The same return saved the way simple_history records it on its own: ``save()`` per row."""
    created = Return(**header)
    created._change_reason = reason
    created.save(force_insert=True)
    for number, item in enumerate(ITEMS, start=1):
        line = ReturnLine(return_obj=created, line_id=f"line_{number}", **item)
        line._change_reason = reason  # type: ignore[attr-defined]
        line.save()
    return created


def _comparable(rows: list[Any], pk_field: str) -> list[dict[str, Any]]:
    return [{**_values(row), pk_field: None} for row in rows]


def test_a_created_return_has_the_history_simple_history_writes():
    header = {"source": "widget", "courier_id": "courier-001", "order_id_1c": "ЗК-1", "comment": "ok"}
    copied = services.return_create(**header, items=ITEMS, created_by="jwt:warehouse")
    saved = _by_simple_history("created by jwt:warehouse", **header, created_by="jwt:warehouse")
    Return.objects.filter(pk=saved.pk).update(created_at=copied.created_at, updated_at=copied.updated_at)
    saved.refresh_from_db()

    copied_history = list(Return.history.filter(return_id=copied.return_id))
    saved_history = list(Return.history.filter(return_id=saved.return_id))
    copied_lines = list(ReturnLine.history.filter(return_obj_id=copied.return_id).order_by("history_id"))
    saved_lines = list(ReturnLine.history.filter(return_obj_id=saved.return_id).order_by("history_id"))

    assert len(copied_history) == 1 and copied_history[0].history_type == "+"
    assert copied_history[0].history_change_reason == "created by jwt:warehouse"
    assert copied_history[0].history_user_id is None
    # The saved return's header row predates the timestamps' update; compare what it stored then.
    expected = _values(saved_history[0]) | {
        "return_id": copied.return_id,
        "created_at": copied.created_at,
        "updated_at": copied.updated_at,
    }
    assert _values(copied_history[0]) == expected
    assert [row.line_id for row in copied_lines] == ["line_1", "line_2"]
    assert _comparable(copied_lines, "return_obj_id") == _comparable(saved_lines, "return_obj_id")
    assert copied_lines[1].photos == ["p-1", "p-2"] and copied_lines[1].reason_note == "Трещина «экрана»"
    # Each history row holds the line as stored, with its id.
    assert [row.id for row in copied_lines] == list(copied.lines.order_by("id").values_list("id", flat=True))


def test_a_staff_user_of_the_request_is_the_history_user():
    staff = get_user_model().objects.create_user("olga", password="x", is_staff=True)
    request = RequestFactory().post("/admin/")
    request.user = staff
    HistoricalRecords.context.request = request
    try:
        created = services.return_create(source="widget", courier_id="c-1", items=ITEMS, created_by="admin:olga")
    finally:
        del HistoricalRecords.context.request

    assert Return.history.get(return_id=created.return_id).history_user == staff
    users = set(ReturnLine.history.filter(return_obj_id=created.return_id).values_list("history_user", flat=True))
    assert users == {staff.pk}


def test_the_copy_is_one_statement_and_touches_only_the_rows_asked_for():
    first = services.return_create(source="widget", courier_id="c-1", items=ITEMS, created_by="t")
    other = services.return_create(source="widget", courier_id="c-2", items=ITEMS[:1], created_by="t")

    with CaptureQueriesContext(connection) as queries:
        copied = copy_to_history(
            ReturnLine, field="return_obj", value=other.pk, history_type="~", reason="again", on_behalf_of=other
        )

    assert copied == 1
    assert len(queries) == 1 and queries[0]["sql"].startswith("INSERT INTO")
    assert ReturnLine.history.filter(return_obj_id=first.pk).count() == 2
    assert list(
        ReturnLine.history.filter(return_obj_id=other.pk).values_list("history_type", "history_change_reason")
    ) == [("~", "again"), ("+", "created by t")]


def test_a_caller_with_the_longest_subject_can_create_replace_and_reject(client_for, body):
    # The reason keeps the caller: "replaced by jwt:" and 128 characters do not fit a 100-character column.
    subject = "s" * MAX_SUBJECT_LENGTH
    api = client_for("admin", subject)

    created = send(api, "post", URL, body, key=new_key())
    replaced = send(api, "put", detail_url(created.json()["id"]), body, key=new_key())
    rejected = send(
        api,
        "patch",
        f"{detail_url(created.json()['id'])}/status",
        {"status": "rejected", "reason": "x" * 500},
        key=new_key(),
    )

    assert (created.status_code, replaced.status_code, rejected.status_code) == (201, 200, 200)
    reasons = set(ReturnLine.history.values_list("history_change_reason", flat=True))
    assert {f"created by {subject}", f"replaced by jwt:{subject}"} <= reasons
    assert Return.history.filter(history_change_reason__startswith=f"rejected by jwt:{subject}: x").exists()
