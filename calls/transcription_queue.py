"""The transcription jobs' queue: a job per stored recording, hand-out within the concurrency, claims.

A downloaded record gets a :class:`~calls.models.TranscriptionJob` in the same
transaction (:func:`job_enqueue`).  :func:`dispatch` hands ready jobs to tasks, as
many as ``TRANSCRIBE_CONCURRENCY`` leaves free; :func:`claim_next` is the same for
a task whose job just finished and that runs the next job itself.  A claim
moves a job to ``running`` under one lock for every worker process, which is
what keeps the cap; :func:`release_stale` gives a dead worker's jobs back.
The attempt itself is :mod:`calls.transcription`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from calls.models import (
    JOB_TRANSITIONS,
    RECORD_TRANSITIONS,
    CallExport,
    CallExportStatus,
    CallRecord,
    CallRecordStatus,
    TranscriptionJob,
    TranscriptionJobStatus,
)
from mastermobile.observability.logging import masked_url
from mastermobile.observability.metrics import STT_JOBS

logger = logging.getLogger(__name__)

J = TranscriptionJobStatus
S = CallRecordStatus
# A job handed to a task is counted against the concurrency this long; a task lost with its
# broker message (a restarted Redis) is handed out again afterwards.
DISPATCH_TTL = timedelta(seconds=60)
# Any 64-bit constant: the PostgreSQL advisory lock that serialises claims against the cap.
CLAIM_LOCK_KEY = 0x53_54_54_5F_53_4C_4F_54  # "STT_SLOT"


@dataclass(frozen=True)
class JobOutcome:
    """What one :func:`job_run` did.  ``worked`` is False when nothing was attempted (not claimable, cap full)."""

    status: str
    error_code: str | None = None
    worked: bool = True
    retry_at: datetime | None = None
    run_id: Any = None


# Enqueueing and dispatch -----------------------------------------------------


def engine_for(run: CallExport) -> str:
    return str(run.options.get("engine") or settings.APP_CONFIG.stt_default_engine)


def job_enqueue(record: CallRecord) -> TranscriptionJob:
    """The record's job for its run's engine, created ``queued`` or put back in the queue (CALL-15).

    An open job (queued, running, waiting for a retry) is left as it is.  A
    closed one is queued again: the record only comes back to ``downloaded``
    when it needs transcribing again (STT was switched on, a new download).
    """
    engine = engine_for(record.run)
    key = TranscriptionJob.dedup_key_for(record.call_id, record.recording_url, engine)
    job, created = TranscriptionJob.objects.get_or_create(
        dedup_key=key,
        defaults={
            "call_record": record,
            "call_id": record.call_id,
            # Shown in the admin and the dead-letter API: the access key stays with the record, which downloads.
            "recording_url": masked_url(record.recording_url or ""),
            "engine": engine,
            "language": str(record.run.options.get("language_override") or ""),
        },
    )
    if created:
        return job
    if job.call_record_id != record.pk:
        TranscriptionJob.objects.filter(pk=job.pk).update(call_record=record)
    if job.status not in (J.QUEUED, J.RUNNING, J.RETRY_WAIT):
        JOB_TRANSITIONS.move(TranscriptionJob, job.pk, J.QUEUED, **fresh_job_fields())
    job.refresh_from_db()
    return job


def fresh_job_fields() -> dict[str, Any]:
    return {
        "attempts": 0,
        "next_attempt_at": None,
        "dispatched_at": None,
        "last_status_code": None,
        "last_error_code": "",
        "last_error_message": "",
        "dlq_reason": "",
        "failed_at": None,
        "finished_at": None,
    }


def jobs_ready(now: datetime) -> QuerySet[TranscriptionJob]:
    """Jobs a worker may start now: queued, or waiting for a retry that is due."""
    return TranscriptionJob.objects.filter(_ready(now))


def _ready(now: datetime) -> Q:
    return Q(status=J.QUEUED) | Q(status=J.RETRY_WAIT, next_attempt_at__lte=now)


def _serialised() -> None:
    """Within a transaction: one claim or dispatch at a time, across every worker process.

    PostgreSQL takes a transaction-scoped advisory lock; SQLite already starts
    every transaction with the database write lock (``transaction_mode=IMMEDIATE``).
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CLAIM_LOCK_KEY])


def dispatch(*, enqueue: Callable[[str], None], now: datetime | None = None) -> list[str]:
    """Hand ready jobs to tasks, as many as ``TRANSCRIBE_CONCURRENCY`` leaves free; their ids.

    A job stays counted from hand-out until it starts (``dispatched_at``), so
    many finishing tasks calling this at once do not queue the same job twice.
    Jobs of cancelled runs wait (CALL-19).
    """
    now = now or timezone.now()
    with transaction.atomic():
        _serialised()
        _running, free = _free_slots(now)
        ids = list(_next_ready(now).values_list("id", flat=True)[:free]) if free > 0 else []
        _hand_out(ids, enqueue=enqueue, now=now)
    return [str(job_id) for job_id in ids]


def claim_next(*, enqueue: Callable[[str], None], now: datetime | None = None) -> TranscriptionJob | None:
    """For a task whose job just finished: claim the next ready job for itself and hand out the rest.

    As :func:`dispatch` followed by the claim of the first job handed out, in
    one transaction under one lock: the freed slot goes to the next job without
    a task going through the broker.  None when no slot is free or nothing is ready.
    """
    now = now or timezone.now()
    with transaction.atomic():
        _serialised()
        running, free = _free_slots(now)
        if free <= 0:
            return None
        # The job to claim comes with its record and run, as claim() reads it: no second read.
        jobs = list(_next_ready(now).select_related("call_record__run")[:free])
        if not jobs:
            return None
        _hand_out([job.pk for job in jobs[1:]], enqueue=enqueue, now=now)
        claimed = _claim_locked(jobs[0], now, running=running)
    return claimed if isinstance(claimed, TranscriptionJob) else None


# Jobs of cancelled runs wait (CALL-19).  Said positively on purpose: for "run not cancelled" over the
# outer join PostgreSQL estimates a single row and sorts every ready job of a 9,000-call run; with
# the list of the other statuses it walks the index sttjob_ready and stops after the free slots.
_NOT_CANCELLED = Q(call_record__isnull=True) | Q(
    call_record__run__status__in=[status for status in CallExportStatus.values if status != CallExportStatus.CANCELLED]
)


def _free_slots(now: datetime) -> tuple[int, int]:
    """Within the lock: how many jobs run, and how many slots are free for ready jobs."""
    cap = settings.APP_CONFIG.transcribe_concurrency
    # No upper bound: a dispatch that read the clock after this one but took the lock first
    # has handed its jobs out all the same (a ready retry's hand-out is never in the future).
    # Only the running and the recently handed-out rows are read (indexes sttjob_open_status and
    # sttjob_handed_out), not every queued job of a 9,000-call run.
    handed_out = _ready(now) & _NOT_CANCELLED & Q(dispatched_at__gt=now - DISPATCH_TTL)
    counts = TranscriptionJob.objects.filter(Q(status=J.RUNNING) | handed_out).aggregate(
        running=Count("pk", filter=Q(status=J.RUNNING)),
        handed_out=Count("pk", filter=handed_out),
    )
    return counts["running"], cap - counts["running"] - counts["handed_out"]


def _next_ready(now: datetime) -> QuerySet[TranscriptionJob]:
    """The ready jobs not handed out, oldest due first, in the order of the index sttjob_ready.

    Sliced to the free slots, the walk of the index stops after that many rows.
    """
    return (
        TranscriptionJob.objects.filter(_ready(now) & _NOT_CANCELLED)
        .filter(Q(dispatched_at__isnull=True) | Q(dispatched_at__lte=now - DISPATCH_TTL))
        .order_by("next_attempt_at", "created_at")
    )


def _hand_out(ids: list[Any], *, enqueue: Callable[[str], None], now: datetime) -> None:
    if not ids:
        return
    TranscriptionJob.objects.filter(pk__in=ids).update(dispatched_at=now)
    for job_id in ids:
        transaction.on_commit(functools.partial(enqueue, str(job_id)))


def release_stale(*, now: datetime | None = None) -> int:
    """Jobs ``running`` longer than ``STT_STALE_JOB_SECONDS`` belonged to a dead worker: retry them now.

    The killed attempt counts.  Its record goes back to ``downloaded`` (CALL-17).
    """
    now = now or timezone.now()
    stale_before = now - timedelta(seconds=settings.APP_CONFIG.stt_stale_job_seconds)
    released = 0
    for job_id, record_id in TranscriptionJob.objects.filter(status=J.RUNNING, started_at__lt=stale_before).values_list(
        "id", "call_record_id"
    ):
        with transaction.atomic():
            if not JOB_TRANSITIONS.move(
                TranscriptionJob,
                job_id,
                J.RETRY_WAIT,
                only_from=[J.RUNNING],
                next_attempt_at=now,
                dispatched_at=None,
                last_error_code="stalled",
                last_error_message="the worker stopped answering during the attempt",
            ):
                continue
            if record_id is not None:
                RECORD_TRANSITIONS.move(CallRecord, record_id, S.DOWNLOADED, only_from=[S.TRANSCRIBING])
        released += 1
        logger.warning(
            "stt.job", extra={"event": "stt.job", "stage": "released", "job_id": str(job_id), "record_id": record_id}
        )
    return released


def claim(job_id: str, now: datetime) -> TranscriptionJob | JobOutcome:
    """Move the job to ``running`` and its record to ``transcribing``, within the cap; or say why not."""
    with transaction.atomic():
        _serialised()
        job = TranscriptionJob.objects.select_related("call_record__run").filter(pk=job_id).first()
        if job is None:
            return JobOutcome("missing", worked=False)
        return _claim_locked(job, now, running=TranscriptionJob.objects.filter(status=J.RUNNING).count())


def _claim_locked(job: TranscriptionJob, now: datetime, *, running: int) -> TranscriptionJob | JobOutcome:
    """:func:`claim` of ``job`` (read within the lock, with its record and run), ``running`` jobs counted there."""
    if job.call_record is None:
        if JOB_TRANSITIONS.move(TranscriptionJob, job.pk, J.SKIPPED, only_from=[J.QUEUED, J.RETRY_WAIT]):
            TranscriptionJob.objects.filter(pk=job.pk).update(last_error_code="missing_record")
            STT_JOBS.labels(status="missing_record").inc()
        return JobOutcome(J.SKIPPED, "missing_record")
    if job.status == J.SUCCEEDED or job.call_record.run.status == CallExportStatus.CANCELLED:
        return JobOutcome(job.status, worked=False)
    if running >= settings.APP_CONFIG.transcribe_concurrency:
        # This task gives its hand-out back, so that the next finished job's dispatch counts the
        # slot as free and hands the job out again (a burst of due retries must not look in flight).
        TranscriptionJob.objects.filter(pk=job.pk).update(dispatched_at=None)
        return JobOutcome(job.status, worked=False)
    # Guarded by the attempts just read as well, so the job in hand is the row as it is now: no re-read.
    attempts = job.attempts + 1
    if not JOB_TRANSITIONS.move(
        jobs_ready(now).filter(attempts=job.attempts),
        job.pk,
        J.RUNNING,
        attempts=attempts,
        started_at=now,
        finished_at=None,
    ):
        return JobOutcome(job.status, worked=False)
    record = job.call_record
    if not RECORD_TRANSITIONS.move(
        CallRecord,
        record.pk,
        S.TRANSCRIBING,
        only_from=[S.DOWNLOADED, S.COMPLETED],
        attempts=F("attempts") + 1,
        stt_attempts=F("stt_attempts") + 1,
        last_attempt_at=now,
    ):
        # The record left the stage meanwhile (an operator, another run): nothing to do.
        JOB_TRANSITIONS.move(TranscriptionJob, job.pk, J.SKIPPED, only_from=[J.RUNNING], finished_at=now)
        TranscriptionJob.objects.filter(pk=job.pk).update(last_error_code=f"record_{record.status}")
        return JobOutcome(J.SKIPPED, f"record_{record.status}", worked=False)
    job.status, job.attempts, job.started_at, job.finished_at = J.RUNNING, attempts, now, None
    # The record's counters moved in the database; only its status is read from here on.
    record.status = S.TRANSCRIBING
    return job
