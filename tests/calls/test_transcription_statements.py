"""How many SQL statements one transcription task costs: the claim, the request's audit, the result, the hand-on."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from calls import tasks
from calls.models import CallExport, TranscriptionJob
from tests.fakes.audio import tone, wav

pytestmark = pytest.mark.django_db(transaction=True)

# claim: the job with its record and run, the running count, the two guarded moves;
# the request: the circuit's read, the IntegrationLog row, the circuit's count;
# the result: the ownership check, the transcript's upsert, the two moves;
# the hand-on: the running jobs and the hand-outs counted in one query, the pick (the next job is
# handed out already, by the first job); the run's closing check (a job of the run is still open: its
# records are not looked at).
STATEMENTS = 4 + 3 + 4 + 2 + 1
# PostgreSQL serialises the claim and the dispatch with an advisory lock each.
ADVISORY_LOCKS = 2


@pytest.fixture(autouse=True)
def one_job_per_task(monkeypatch):
    """Each task runs its own job only, so that a count covers one job (the chain: test_transcription_chain.py)."""
    monkeypatch.setattr(tasks, "TRANSCRIBE_CHAIN_SECONDS", 0)


def statements(queries: CaptureQueriesContext) -> list[str]:
    """What went to the database, without the transactions' BEGIN and COMMIT (SQLite shows them, PostgreSQL not)."""
    return [query["sql"] for query in queries if query["sql"].split()[0] not in ("BEGIN", "COMMIT")]


@pytest.fixture
def job_after_a_first_one(stored):
    """A queued job of a run without summaries, one more queued after it, and a first job done (the circuit's row exists)."""
    first = stored(wav(tone(440, 1)))
    job = stored(wav(tone(500, 1)))
    stored(wav(tone(600, 1)))
    CallExport.objects.update(options={"generate_summary": False})
    tasks.transcribe(str(first.pk))
    return job


def test_a_successful_job_is_a_fixed_number_of_statements(job_after_a_first_one, fake_openai):
    with CaptureQueriesContext(connection) as queries:
        assert tasks.transcribe(str(job_after_a_first_one.pk)) == "succeeded"

    expected = STATEMENTS + (ADVISORY_LOCKS if connection.vendor == "postgresql" else 0)
    assert len(statements(queries)) == expected, "\n".join(statements(queries))


def test_a_successful_job_takes_no_savepoint(job_after_a_first_one, fake_openai):
    with CaptureQueriesContext(connection) as queries:
        tasks.transcribe(str(job_after_a_first_one.pk))

    assert not [sql for sql in statements(queries) if sql.startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]


def test_the_last_job_of_a_run_closes_it(stored, fake_openai):
    only = stored(wav(tone(440, 1)))
    CallExport.objects.update(options={"generate_summary": False}, checkpoint={"listed": True})

    tasks.transcribe(str(only.pk))

    assert CallExport.objects.get().status == "completed"


def test_a_run_with_a_job_still_open_stays_in_progress(stored, fake_openai):
    first = stored(wav(tone(440, 1)))
    stored(wav(tone(500, 1)))
    CallExport.objects.update(options={"generate_summary": False}, checkpoint={"listed": True})

    tasks.transcribe(str(first.pk))

    assert CallExport.objects.get().status == "in_progress"


def test_a_task_claims_the_job_it_chains_on_to_in_its_hand_on(stored, fake_openai, monkeypatch, settings):
    settings.APP_CONFIG = dataclasses.replace(settings.APP_CONFIG, transcribe_concurrency=1)
    first = stored(wav(tone(440, 1)))
    CallExport.objects.update(options={"generate_summary": False})
    tasks.transcribe(str(first.pk))  # alone: the circuit's row exists afterwards
    second, third, later = (stored(wav(tone(pitch, 1))) for pitch in (500, 600, 700))
    # Not due for an hour: the run stays open, so each closing check is its one query.
    TranscriptionJob.objects.filter(pk=later.pk).update(
        status="retry_wait", next_attempt_at=timezone.now() + timedelta(hours=1)
    )
    monkeypatch.setattr(tasks, "TRANSCRIBE_CHAIN_SECONDS", 3600)

    with CaptureQueriesContext(connection) as queries:
        tasks.transcribe(str(second.pk))

    assert list(TranscriptionJob.objects.filter(pk__in=[second.pk, third.pk]).values_list("status", flat=True)) == [
        "succeeded",
        "succeeded",
    ]
    # The second job's claim, request and result; the hand-on that claims the third (count, the pick that
    # brings the job with its record and run, two moves), no closing check (the third job of the run is
    # open); the third's request and result; a hand-on that finds nothing ready (count, pick); the
    # closing check.
    expected = 4 + (3 + 4) + (2 + 2) + (3 + 4) + 2 + 1
    locks = 3 if connection.vendor == "postgresql" else 0
    assert len(statements(queries)) == expected + locks, "\n".join(statements(queries))
