"""django-q2 tasks of the call export (CALL-16, CALL-17).  Thin: each one calls a service.

Durations are recorded for every task by the platform (mastermobile.q signals).
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task, schedule

from calls import downloads, services, transcription, transcription_queue
from calls.models import MAX_DOWNLOAD_ATTEMPTS, CallExport, CallExportStatus, CallRecord, CallRecordStatus

logger = logging.getLogger(__name__)
S = CallRecordStatus
PENDING_REQUEUE_AFTER = timedelta(minutes=5)
# STT-06: a transcription task is killed after 900 s; the cluster's ``retry`` (1860 s) is longer,
# so a slow task is never delivered twice while it still runs.
TRANSCRIBE_TASK_TIMEOUT = 900
# A retry due within this is queued at once; later ones wait in a one-off schedule.
IMMEDIATE_RETRY = timedelta(seconds=1)
# A task goes on with the next ready job while it has run for less than this: a job chained at
# 119 s still has 780 s of the task's 900, more than a 60-minute recording needs (STT-02, STT-04).
TRANSCRIBE_CHAIN_SECONDS = 120


# Per-record tasks are not kept in django-q2's table when they succeed (``save=False``; a
# failure is still saved): the record and its transcription job hold the outcome, a 60-day run
# of 9,000 calls would push every other task out of the admin's list of the last
# ``save_limit`` successes, and saving one costs the monitor a locked read of that whole list
# (20-26 ms of CPU a task, docs/performance.md "The task table").
RECORD_TASK_OPTIONS = {"save": False}


def enqueue_download(record_id: int) -> None:
    async_task(
        "calls.tasks.download_recording",
        record_id,
        task_name=f"call_export.download.{record_id}",
        **RECORD_TASK_OPTIONS,
    )


# A transcription task, queued now or by a retry's one-off schedule: STT-06's timeout, not saved on success.
TRANSCRIBE_TASK_OPTIONS = {"timeout": TRANSCRIBE_TASK_TIMEOUT, **RECORD_TASK_OPTIONS}


def enqueue_transcription(job_id: str) -> None:
    async_task("calls.tasks.transcribe", job_id, task_name=f"stt.transcribe.{job_id}", **TRANSCRIBE_TASK_OPTIONS)


def dispatch_transcriptions() -> list[str]:
    return transcription_queue.dispatch(enqueue=enqueue_transcription)


def list_calls(run_id: str) -> None:
    """List the run's period and queue the first downloads, as many as the run's cap allows (CALL-17).

    Each download then hands its slot on to the next record (:func:`download_recording`).
    """
    run = CallExport.objects.get(pk=run_id)
    if not services.call_export_list(run=run):
        return
    run.refresh_from_db()
    if not run.is_dry_run:
        pending = downloads.records_to_download(run).filter(status=S.PENDING).values_list("id", flat=True)
        for record_id in pending[: downloads.download_slots_free(run)]:
            enqueue_download(record_id)
    services.call_export_refresh(run=run)


def download_recording(record_id: int) -> str:
    """One download attempt, then the run's next pending or due record gets the slot.

    So at most ``B24_DOWNLOAD_CONCURRENCY`` tasks of a run keep the downloads
    flowing; failed records are retried after 1, 5, 15 and 60 minutes.
    """
    outcome = downloads.record_download(record_id=record_id)
    if outcome.queue_next:
        next_id = downloads.next_download(record_id=record_id)
        if next_id is not None:
            enqueue_download(next_id)
    if outcome.status == S.DOWNLOADED:
        dispatch_transcriptions()
    return outcome.status


def transcribe(job_id: str) -> str:
    """Transcription attempts (STT-06): this job, then the jobs its freed slot is handed on to.

    A finished job's task runs the next ready job itself for up to
    ``TRANSCRIBE_CHAIN_SECONDS`` instead of enqueueing it, so a slot does not
    wait for the broker, the pusher and a worker's pick-up between two jobs;
    the claim still counts the slot against ``TRANSCRIBE_CONCURRENCY``.  After
    that the next job is a new task, which keeps every task well inside its
    timeout.  The worker never sleeps: a retry due later is a one-off
    django-q2 schedule at ``next_attempt_at``.
    """
    chain_started = time.monotonic()
    outcome = transcription.job_run(job_id)
    while True:
        _queue_retry(job_id, outcome)
        if not outcome.worked:
            return outcome.status
        next_job = None
        if time.monotonic() - chain_started < TRANSCRIBE_CHAIN_SECONDS:
            next_job = transcription_queue.claim_next(enqueue=enqueue_transcription)
        else:
            dispatch_transcriptions()
        # The next job's run has that job open: it is not done.
        next_run_id = next_job.call_record.run_id if next_job is not None and next_job.call_record else None
        if outcome.run_id is not None and outcome.run_id != next_run_id:
            services.call_export_close_if_done(run_id=outcome.run_id)
        if next_job is None:
            return outcome.status
        job_id = str(next_job.pk)
        outcome = transcription.job_attempt(next_job)


def _queue_retry(job_id: str, outcome: transcription_queue.JobOutcome) -> None:
    if outcome.retry_at is None:
        return
    if outcome.retry_at - timezone.now() <= IMMEDIATE_RETRY:
        enqueue_transcription(job_id)
    else:
        schedule(
            "calls.tasks.transcribe",
            job_id,
            name=f"stt.retry.{job_id}.{outcome.retry_at:%Y%m%dT%H%M%S%f}",
            schedule_type=Schedule.ONCE,
            next_run=outcome.retry_at,
            repeats=-1,
            # The scheduler hands these to async_task; without them the retry would run under the
            # cluster's 1800 s timeout and be saved like any other task.
            q_options=TRANSCRIBE_TASK_OPTIONS,
        )


def build_export_package(run_id: str) -> list[str]:
    """EXP-07 at the end of a run; a failure is recorded on the run, not raised."""
    return services.call_export_package_safely(run_id=run_id)


def supervise_runs() -> None:
    """Every minute: release stuck records, queue due retries, refresh counters and close finished runs.

    Retries fill the run's free download slots only; the rest wait for a slot
    handed on by a finished download, or for the next minute.
    """
    now = timezone.now()
    stalled_jobs = transcription_queue.release_stale(now=now)
    for run in CallExport.objects.filter(status=CallExportStatus.IN_PROGRESS):
        stuck = run.records.filter(status=S.DOWNLOADING, updated_at__lt=now - downloads.STALE_AFTER)
        released = stuck.count()
        downloads.release_downloading(stuck)
        due = Q(status=S.PENDING, updated_at__lt=now - PENDING_REQUEUE_AFTER) | downloads.retry_due(now)
        retry = downloads.records_to_download(run).filter(due, download_attempts__lt=MAX_DOWNLOAD_ATTEMPTS)
        queued = list(retry.values_list("id", flat=True)[: downloads.download_slots_free(run)])
        for record_id in queued:
            CallRecord.objects.filter(pk=record_id).update(updated_at=now)
            enqueue_download(record_id)
        run = services.call_export_refresh(run=run)
        if released or queued or run.status != CallExportStatus.IN_PROGRESS:
            logger.info(
                "call_export.supervised",
                extra={
                    "event": "call_export.supervised",
                    "correlation_id": str(run.run_id),
                    "released": released,
                    "retries_queued": len(queued),
                    "status": run.status,
                },
            )
    dispatched = dispatch_transcriptions()
    if stalled_jobs or dispatched:
        logger.info(
            "stt.supervised",
            extra={"event": "stt.supervised", "released": stalled_jobs, "dispatched": len(dispatched)},
        )


def poll_bitrix24() -> str:
    """The daily schedule (CALL_EXPORT_CRON): a run over the rolling window, as the system actor."""
    period_from, period_to = services.default_period()
    run, created = services.call_export_start(
        period_from=period_from,
        period_to=period_to,
        actor=None,
        options={"trigger": "cron", "generate_summary": settings.APP_CONFIG.call_summary_enabled},
    )
    if created:
        services.call_export_enqueue(run)
    return str(run.run_id)


def cleanup_expired_assets() -> dict:
    """The STORAGE_CLEANUP_INTERVAL_HOURS schedule: one retention sweep (STT-30…STT-32)."""
    from calls import retention

    windows = retention.retention_windows(settings.APP_CONFIG)
    return retention.storage_cleanup(windows=windows).as_dict()
