"""CallExport and CallRecord invariants (CALL-01…CALL-11), enforced by the database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from calls.models import CallExport, CallExportStatus, CallRecord, CallRecordStatus, InvalidTransition

pytestmark = pytest.mark.django_db

FROM = datetime(2026, 9, 1, tzinfo=UTC)
TO = datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC)


def make_run(**fields) -> CallExport:
    return CallExport.objects.create(period_from=fields.pop("period_from", FROM), period_to=TO, **fields)


def make_record(run: CallExport, **fields) -> CallRecord:
    defaults = {
        "call_id": "c1",
        "direction": "inbound",
        "from_number": "+79160000001",
        "to_number": "+74950000000",
        "duration_sec": 10,
    }
    return CallRecord.objects.create(run=run, **{**defaults, **fields})


def test_a_period_must_not_end_before_it_starts():
    with pytest.raises(IntegrityError):
        CallExport.objects.create(period_from=TO, period_to=FROM)


def test_only_one_active_run_per_period_and_actor():
    make_run()

    with pytest.raises(IntegrityError):
        make_run()


def test_the_same_period_may_run_again_once_the_first_run_finished():
    make_run(status=CallExportStatus.COMPLETED)

    assert make_run().status == CallExportStatus.PENDING


def test_different_actors_may_run_the_same_period():
    user = get_user_model().objects.create_user("analyst")
    make_run()

    assert make_run(actor=user).actor == user


@pytest.mark.parametrize(
    ("start", "target", "allowed"),
    [
        ("pending", "in_progress", True),
        ("pending", "cancelled", True),
        ("pending", "completed", False),
        ("in_progress", "completed", True),
        ("in_progress", "error", True),
        ("error", "in_progress", True),
        ("error", "completed", False),
        ("completed", "in_progress", False),
        ("cancelled", "in_progress", False),
    ],
)
def test_run_transitions_follow_the_state_machine(start, target, allowed):
    run = CallExport(period_from=FROM, period_to=TO, status=start)

    if allowed:
        run.transition_to(target)
        assert run.status == target
    else:
        with pytest.raises(InvalidTransition):
            run.transition_to(target)


def test_finishing_a_run_sets_finished_at():
    run = CallExport(period_from=FROM, period_to=TO, status=CallExportStatus.IN_PROGRESS)

    run.transition_to(CallExportStatus.COMPLETED)

    assert run.finished_at is not None


def test_a_call_without_record_id_is_unique_across_runs():
    make_record(make_run(status=CallExportStatus.COMPLETED))

    with pytest.raises(IntegrityError):
        make_record(make_run())


def test_a_call_may_have_several_recordings():
    run = make_run()
    make_record(run, record_id="r1")

    assert make_record(run, record_id="r2").record_id == "r2"


def test_the_same_recording_url_cannot_be_stored_twice_for_a_call():
    run = make_run()
    make_record(run, record_id="r1", recording_url="https://portal/rec/1")

    with pytest.raises(IntegrityError):
        make_record(run, record_id="r2", recording_url="https://portal/rec/1")


@pytest.mark.parametrize("field", ["from_number", "to_number"])
def test_numbers_must_not_be_blank(field):
    run = make_run()

    with pytest.raises(IntegrityError), transaction.atomic():
        make_record(run, **{field: "   "})


def test_unknown_statuses_are_refused_by_the_database():
    with pytest.raises(IntegrityError):
        make_record(make_run(), status="running")


@pytest.mark.parametrize(
    ("start", "target", "allowed"),
    [
        ("pending", "downloading", True),
        ("pending", "skipped", True),
        ("downloading", "downloaded", True),
        ("downloading", "missing_audio", True),
        ("downloaded", "skipped", True),
        ("skipped", "pending", True),
        ("missing_audio", "downloading", False),
        ("completed", "downloading", False),
        ("pending", "completed", False),
    ],
)
def test_record_transitions_follow_the_state_machine(start, target, allowed):
    record = CallRecord(status=start)

    assert record.can_transition_to(target) is allowed


@pytest.mark.parametrize(
    ("status", "code", "final"),
    [
        ("completed", None, True),
        ("skipped", "no_recording", True),
        ("missing_audio", "http_404", True),
        ("error", "max_attempts", True),
        ("error", "http_500", False),
        ("pending", None, False),
        ("downloaded", None, False),
    ],
)
def test_final_record_states(status, code, final):
    assert CallRecord(status=status, error_code=code).is_final is final


def test_record_status_values_are_the_documented_ones():
    assert CallRecordStatus.values == [
        "pending",
        "downloading",
        "downloaded",
        "transcribing",
        "completed",
        "skipped",
        "error",
        "missing_audio",
    ]
