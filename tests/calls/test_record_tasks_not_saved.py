"""Per-record tasks leave no row in django-q2's task table when they succeed, and still do when they fail.

A 60-day run queues a download and a transcription per call; kept, they would
push every other success out of the admin's list (``save_limit``) and cost the
monitor a locked read of that list per task. Their outcome lives on the record
and the transcription job.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import Failure, Schedule, Success
from django_q.monitor import save_task
from django_q.scheduler import scheduler
from django_q.tasks import async_task

from calls.tasks import TRANSCRIBE_TASK_TIMEOUT, _queue_retry, enqueue_download, enqueue_transcription
from calls.transcription_queue import JobOutcome
from tests.queue import queued_tasks

pytestmark = pytest.mark.django_db


def finished(task: dict, *, success: bool) -> dict:
    """The package as a worker hands it to the monitor.

    ``sync`` keeps the monitor from closing the test's database connection, which it
    does before saving in a real cluster.
    """
    now = timezone.now()
    outcome = "completed" if success else "Traceback…"
    return {**task, "success": success, "result": outcome, "started": now, "stopped": now, "sync": True}


@pytest.fixture
def record_tasks() -> list[dict]:
    broker = get_broker()
    broker.purge_queue()  # nothing consumes the test run's queue; start from an empty one
    enqueue_download(41)
    enqueue_transcription("9b0c6c2e-5d7a-4a53-9a55-0a3f3b1f2c11")
    return queued_tasks(broker)


def test_download_and_transcription_tasks_are_enqueued_unsaved(record_tasks):
    assert [(task["func"], task["save"]) for task in record_tasks] == [
        ("calls.tasks.download_recording", False),
        ("calls.tasks.transcribe", False),
    ]


def test_a_successful_record_task_leaves_no_row_and_a_failed_one_is_kept(record_tasks):
    broker = get_broker()
    download, transcription = record_tasks

    save_task(finished(download, success=True), broker)
    save_task(finished(transcription, success=False), broker)

    assert not Success.objects.exists()
    assert list(Failure.objects.values_list("func", flat=True)) == ["calls.tasks.transcribe"]


def test_other_tasks_are_still_saved_when_they_succeed():
    broker = get_broker()
    broker.purge_queue()
    async_task("calls.tasks.list_calls", "run-id", task_name="call_export.list.run-id")
    (listing,) = queued_tasks(broker)

    save_task(finished(listing, success=True), broker)

    assert list(Success.objects.values_list("func", flat=True)) == ["calls.tasks.list_calls"]


# Outside a test transaction: the scheduler closes a connection that is not in autocommit, as in a worker.
@pytest.mark.django_db(transaction=True)
def test_a_retry_due_later_runs_as_an_unsaved_task_with_the_transcription_timeout():
    """A retry's one-off schedule hands the same options to its task as a transcription queued at once."""
    broker = get_broker()
    broker.purge_queue()
    job_id = "5d1f0a7e-2b9c-4e8a-9a51-1c3f7e0b2d44"
    outcome = JobOutcome("retry_wait", worked=True, retry_at=timezone.now() + timedelta(minutes=1))

    _queue_retry(job_id, outcome)
    Schedule.objects.filter(name__startswith="stt.retry.").update(next_run=timezone.now() - timedelta(seconds=1))
    scheduler(broker=broker)

    # The housekeeping schedules (created by migrate, due at once) may run in the same pass.
    (retry,) = [task for task in queued_tasks(broker) if task["func"] == "calls.tasks.transcribe"]
    assert (retry["func"], retry["args"]) == ("calls.tasks.transcribe", (job_id,))
    assert (retry["save"], retry["timeout"]) == (False, TRANSCRIBE_TASK_TIMEOUT)
