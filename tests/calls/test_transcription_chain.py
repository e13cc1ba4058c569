"""A finished job's task runs the next ready job itself, within the cap and for a bounded time.

Between two jobs a slot then waits for no broker round trip, pusher or
worker pick-up (issue 10's overhead target); the cap and the claim are the
same as for a job that arrives as its own task.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from django_q.brokers import get_broker

from calls import tasks
from calls.models import CallExport, CallRecord, TranscriptionJob
from tests.fakes.audio import tone, wav
from tests.queue import queued_tasks

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def broker():
    broker = get_broker()
    broker.purge_queue()  # nothing consumes the test run's queue; start from an empty one
    yield broker
    broker.purge_queue()


@pytest.fixture
def three_jobs(stored):
    jobs = [stored(wav(tone(400 + 50 * index, 0.5))) for index in range(3)]
    CallExport.objects.update(options={"generate_summary": False}, checkpoint={"listed": True})
    return jobs


def statuses(jobs: list[TranscriptionJob]) -> list[str]:
    return [TranscriptionJob.objects.get(pk=job.pk).status for job in jobs]


def transcription_tasks(broker) -> list[str]:
    return [task["args"][0] for task in queued_tasks(broker) if task["func"] == "calls.tasks.transcribe"]


def test_one_task_runs_the_ready_jobs_one_after_another_and_closes_the_run(three_jobs, broker, fake_openai, settings):
    settings.APP_CONFIG = dataclasses.replace(settings.APP_CONFIG, transcribe_concurrency=1)

    assert tasks.transcribe(str(three_jobs[0].pk)) == "succeeded"

    assert statuses(three_jobs) == ["succeeded"] * 3
    assert len(fake_openai.transcriptions()) == 3  # each recording sent once
    assert transcription_tasks(broker) == []  # none went through the broker
    assert CallExport.objects.get().status == "completed"


def test_past_the_chain_budget_the_next_job_is_a_new_task(three_jobs, broker, fake_openai, monkeypatch):
    monkeypatch.setattr(tasks, "TRANSCRIBE_CHAIN_SECONDS", 0)

    tasks.transcribe(str(three_jobs[0].pk))

    assert statuses(three_jobs) == ["succeeded", "queued", "queued"]
    # The default cap is larger than the open jobs: both are handed out, each to its own task.
    assert sorted(transcription_tasks(broker)) == sorted(str(job.pk) for job in three_jobs[1:])
    assert CallExport.objects.get().status == "in_progress"


def test_a_chain_keeps_one_slot_and_hands_further_free_slots_to_new_tasks(three_jobs, broker, fake_openai, settings):
    settings.APP_CONFIG = dataclasses.replace(settings.APP_CONFIG, transcribe_concurrency=2)
    first, second, _third = three_jobs
    # The second job is handed out to a task of its own already, as the run's first dispatch does.
    TranscriptionJob.objects.filter(pk=second.pk).update(
        dispatched_at=TranscriptionJob.objects.get(pk=second.pk).created_at
    )

    tasks.transcribe(str(first.pk))

    # The first job's slot went to the third job in this task; the second still waits for its own task
    # (handed out less than DISPATCH_TTL ago, so not handed out twice).
    assert statuses(three_jobs) == ["succeeded", "queued", "succeeded"]
    assert transcription_tasks(broker) == []


def test_a_job_another_worker_took_ends_the_chain_without_a_second_attempt(three_jobs, broker, fake_openai, settings):
    settings.APP_CONFIG = dataclasses.replace(settings.APP_CONFIG, transcribe_concurrency=1)
    first, second, third = three_jobs
    TranscriptionJob.objects.filter(pk=second.pk).update(status="succeeded")
    TranscriptionJob.objects.filter(pk=third.pk).update(status="running")  # another worker's, holding the one slot

    assert tasks.transcribe(str(first.pk)) == "queued"  # refused by the cap: not attempted

    assert TranscriptionJob.objects.get(pk=first.pk).attempts == 0
    assert fake_openai.transcriptions() == []


def test_a_chain_into_another_run_still_closes_the_run_it_finished(stored, broker, fake_openai, settings):
    settings.APP_CONFIG = dataclasses.replace(settings.APP_CONFIG, transcribe_concurrency=1)
    first, second = stored(wav(tone(420, 0.5))), stored(wav(tone(480, 0.5)))
    run = CallExport.objects.get()
    other = CallExport.objects.create(
        period_from=run.period_from - timedelta(days=7),
        period_to=run.period_to - timedelta(days=7),
        status="in_progress",
    )
    CallRecord.objects.filter(pk=second.call_record_id).update(run=other)
    CallExport.objects.update(options={"generate_summary": False}, checkpoint={"listed": True})

    tasks.transcribe(str(first.pk))

    assert statuses([first, second]) == ["succeeded", "succeeded"]
    assert dict(CallExport.objects.values_list("pk", "status")) == {run.pk: "completed", other.pk: "completed"}
