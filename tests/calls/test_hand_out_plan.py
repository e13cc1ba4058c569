"""The hand-out under the claim lock reads the few rows it needs, not every queued job of a large run.

It runs for every finished job, under the one lock all workers claim with;
read as a sort of every ready job it cost 16 ms at 9,000 queued jobs
(docs/performance.md, 7 December).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from calls import transcription_queue
from calls.models import CallExport, CallExportStatus, CallRecord, TranscriptionJob

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

QUEUED_JOBS = 3000


@pytest.fixture
def large_run():
    run = CallExport.objects.create(
        period_from=datetime(2026, 1, 1, tzinfo=UTC),
        period_to=datetime(2026, 3, 1, tzinfo=UTC),
        status=CallExportStatus.IN_PROGRESS,
    )
    records = CallRecord.objects.bulk_create(
        CallRecord(
            run=run,
            call_id=f"c{index}",
            record_id=str(index),
            direction="inbound",
            from_number="+79161234567",
            to_number="+74951200000",
            duration_sec=60,
            status="downloaded",
        )
        for index in range(QUEUED_JOBS)
    )
    TranscriptionJob.objects.bulk_create(
        TranscriptionJob(call_record=record, call_id=record.call_id, engine="openai-whisper", dedup_key=record.call_id)
        for record in records
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE calls_callexport, calls_callrecord, calls_transcriptionjob")
    return run


def plans(hand_out=lambda: transcription_queue.dispatch(enqueue=lambda job_id: None, now=timezone.now())) -> list[str]:
    """The plans of the reads of ``hand_out`` (a dispatch by default), in order."""
    with CaptureQueriesContext(connection) as queries:
        hand_out()
    explained = []
    for query in queries.captured_queries:
        if query["sql"].startswith("SELECT") and "pg_advisory" not in query["sql"]:
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN " + query["sql"])
                explained.append("\n".join(row[0] for row in cursor.fetchall()))
    return explained


def test_the_count_reads_only_running_and_recently_handed_out_jobs(large_run):
    count, _pick = plans()

    assert "sttjob_handed_out" in count
    assert "Seq Scan on calls_transcriptionjob" not in count


def test_the_pick_walks_the_ready_index_and_stops_at_the_free_slots(large_run):
    _count, pick = plans()

    assert "sttjob_ready" in pick
    assert "Sort" not in pick  # in the index's order: no sort of every ready job


def test_a_finished_jobs_hand_on_picks_the_next_job_with_its_record_and_run_the_same_way(large_run):
    _count, pick = plans(lambda: transcription_queue.claim_next(enqueue=lambda job_id: None, now=timezone.now()))[:2]

    assert "sttjob_ready" in pick
    assert "Sort" not in pick
    assert TranscriptionJob.objects.filter(status="running").count() == 1
