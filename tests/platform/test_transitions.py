"""The one transition helper: guarded updates the database decides, for every state machine."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from calls.models import (
    EXPORT_TRANSITIONS,
    JOB_TRANSITIONS,
    RECORD_TRANSITIONS,
    CallExport,
    CallRecord,
)
from mastermobile.transitions import InvalidTransition

pytestmark = pytest.mark.django_db


@pytest.fixture
def record() -> CallRecord:
    run = CallExport.objects.create(
        period_from=datetime(2026, 1, 1, tzinfo=UTC), period_to=datetime(2026, 1, 2, tzinfo=UTC)
    )
    return CallRecord.objects.create(
        run=run, call_id="c1", direction="inbound", from_number="+7900", to_number="+7901", duration_sec=5
    )


def test_a_move_the_table_allows_changes_the_row_and_its_fields(record):
    moved = RECORD_TRANSITIONS.move(CallRecord, record.pk, "downloading", attempts=1)

    record.refresh_from_db()
    assert moved is True
    assert (record.status, record.attempts) == ("downloading", 1)


@pytest.mark.parametrize(
    ("source", "target"),
    [("downloading", "pending"), ("missing_audio", "pending"), ("completed", "downloading"), ("pending", "completed")],
)
def test_moves_the_table_forbids_leave_the_row_alone(record, source, target):
    CallRecord.objects.filter(pk=record.pk).update(status=source)

    moved = RECORD_TRANSITIONS.move(CallRecord, record.pk, target, error_code="x")

    record.refresh_from_db()
    assert moved is False
    assert (record.status, record.error_code) == (source, None)


def test_a_row_that_changed_since_it_was_read_is_not_moved(record):
    assert RECORD_TRANSITIONS.move(CallRecord, record.pk, "downloading")
    # A second worker holding the stale "pending" copy loses the race.
    assert RECORD_TRANSITIONS.move(CallRecord, record.pk, "downloading", only_from=["pending"]) is False


def test_asking_for_a_source_the_table_forbids_is_a_programming_error(record):
    with pytest.raises(InvalidTransition):
        RECORD_TRANSITIONS.move(CallRecord, record.pk, "pending", only_from=["downloading"])


def test_the_tables_know_their_final_states():
    assert EXPORT_TRANSITIONS.is_final("completed") and EXPORT_TRANSITIONS.is_final("cancelled")
    assert not EXPORT_TRANSITIONS.is_final("error")
    assert RECORD_TRANSITIONS.is_final("missing_audio")
    assert JOB_TRANSITIONS.sources("queued") == {"dead_letter", "succeeded", "skipped"}
    assert JOB_TRANSITIONS.allows("running", "retry_wait") and not JOB_TRANSITIONS.allows("queued", "succeeded")
