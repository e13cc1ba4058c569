"""The transcription stage of a call export: one job per stored recording (CALL-15, STT-01…STT-10).

A downloaded record gets a :class:`~calls.models.TranscriptionJob` in the same
transaction (:func:`job_enqueue`).  :func:`job_run` makes one attempt: it
claims the job within ``TRANSCRIBE_CONCURRENCY``, transcribes the stored audio
through the job's engine and ends the job ``succeeded``, ``skipped``,
``retry_wait`` (with ``next_attempt_at`` on the STT-06 ladder) or
``dead_letter``.  It never sleeps: the django-q2 tasks (:mod:`calls.tasks`)
schedule the retry as a new task, and ``manage.py call_export`` waits in its
own process (:func:`run_in_process`).  Both paths run this one implementation.

Exactly once: the claim bumps ``attempts`` and the result is written only if
the job is still ``running`` with the same ``attempts`` — so an attempt whose
worker was presumed dead (:func:`release_stale`) and whose job was claimed
again cannot write a second result.  ``Transcript`` is one-to-one with the
record and the cost is set, never added, so a recording is counted once.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

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
    Transcript,
    TranscriptionJob,
    TranscriptionJobStatus,
)
from calls.storage import default_storage, save_text, transcript_key
from calls.transcripts import text_preview, transcript_file
from integrations.circuitbreaker import OPEN_FOR
from integrations.stt import (
    STUB_ENGINE,
    DurationLimitExceeded,
    ProviderUnavailable,
    RecordingTranscript,
    TranscriptionDisabled,
    TranscriptionError,
    language_hint,
    recording_settings_from_config,
    transcribe_recording,
    transcriber_for_engine,
)
from mastermobile.observability.logging import Redactor, masked_url
from mastermobile.observability.metrics import (
    CALL_EXPORT_COST,
    CALL_EXPORT_RETRY,
    CALL_EXPORT_SUCCESS,
    CALL_EXPORT_TRANSCRIBE_FAILURES,
    CALL_TRANSCRIPTION_MINUTES,
    CALL_TRANSCRIPTS,
    EVENTS_DLQ,
    STT_JOB_DURATION,
    STT_JOBS,
)

logger = logging.getLogger(__name__)

J = TranscriptionJobStatus
S = CallRecordStatus
# A job handed to a task is counted against the concurrency this long; a task lost with its
# broker message (a restarted Redis) is handed out again afterwards.
DISPATCH_TTL = timedelta(seconds=60)
# Any 64-bit constant: the PostgreSQL advisory lock that serialises claims against the cap.
CLAIM_LOCK_KEY = 0x53_54_54_5F_53_4C_4F_54  # "STT_SLOT"
MESSAGE_LIMIT = 2000
CIRCUIT_OPEN_SECONDS = OPEN_FOR.total_seconds()
# A job in one of these still has work to do; its record is not final.
OPEN_JOB_STATUSES = (J.QUEUED, J.RUNNING, J.RETRY_WAIT)


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
        _running, ids = _free_slots_jobs(now)
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
        running, ids = _free_slots_jobs(now)
        if not ids:
            return None
        _hand_out(ids[1:], enqueue=enqueue, now=now)
        claimed = _claim_locked(str(ids[0]), now, running=running)
    return claimed if isinstance(claimed, TranscriptionJob) else None


def _free_slots_jobs(now: datetime) -> tuple[int, list[Any]]:
    """Within the lock: how many jobs run, and the ready jobs that fit in the free slots, oldest due first."""
    cap = settings.APP_CONFIG.transcribe_concurrency
    waiting = _ready(now) & ~Q(call_record__run__status=CallExportStatus.CANCELLED)
    # No upper bound: a dispatch that read the clock after this one but took the lock first
    # has handed its jobs out all the same (a ready retry's hand-out is never in the future).
    counts = TranscriptionJob.objects.filter(status__in=OPEN_JOB_STATUSES).aggregate(
        running=Count("pk", filter=Q(status=J.RUNNING)),
        handed_out=Count("pk", filter=waiting & Q(dispatched_at__gt=now - DISPATCH_TTL)),
    )
    free = cap - counts["running"] - counts["handed_out"]
    if free <= 0:
        return counts["running"], []
    ids = list(
        TranscriptionJob.objects.filter(waiting)
        .filter(Q(dispatched_at__isnull=True) | Q(dispatched_at__lte=now - DISPATCH_TTL))
        .order_by("next_attempt_at", "created_at")
        .values_list("id", flat=True)[:free]
    )
    return counts["running"], ids


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


# One attempt ------------------------------------------------------------------


def _claim(job_id: str, now: datetime) -> TranscriptionJob | JobOutcome:
    """Move the job to ``running`` and its record to ``transcribing``, within the cap; or say why not."""
    with transaction.atomic():
        _serialised()
        return _claim_locked(job_id, now, running=TranscriptionJob.objects.filter(status=J.RUNNING).count())


def _claim_locked(job_id: str, now: datetime, *, running: int) -> TranscriptionJob | JobOutcome:
    """:func:`_claim` within its transaction and lock, ``running`` jobs counted there."""
    job = TranscriptionJob.objects.select_related("call_record__run").filter(pk=job_id).first()
    if job is None:
        return JobOutcome("missing", worked=False)
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


def job_run(job_id: str, *, transcriber: Any = None, now: Callable[[], datetime] = timezone.now) -> JobOutcome:
    """One attempt of one job; ``transcriber`` replaces the engine's client (the command reuses one)."""
    claimed = _claim(job_id, now())
    if isinstance(claimed, JobOutcome):
        return claimed
    return job_attempt(claimed, transcriber=transcriber, now=now)


def job_attempt(
    job: TranscriptionJob, *, transcriber: Any = None, now: Callable[[], datetime] = timezone.now
) -> JobOutcome:
    """The attempt of a job claimed by :func:`job_run` or :func:`claim_next`: transcribe, then settle."""
    started = time.monotonic()
    try:
        result = _transcribe(job, transcriber)
    except TranscriptionDisabled as error:
        outcome = _finish_skipped(job, "stt_disabled", str(error), now)
    except DurationLimitExceeded as error:
        outcome = _finish_skipped(job, error.error_code, str(error), now)
    except TranscriptionError as error:
        outcome = _finish_failed(job, error, now)
    except Exception as error:  # a bug or a storage backend's own exception type
        logger.exception("stt.job", extra={"event": "stt.job", "stage": "unexpected", "job_id": str(job.pk)})
        failure = TranscriptionError(f"{error.__class__.__name__}: {error}")
        failure.retryable = True
        if isinstance(error, OSError):
            failure.error_code = "storage_error"
        outcome = _finish_failed(job, failure, now)
    else:
        if result.no_speech:
            outcome = _finish_skipped(job, "no_speech", "no speech in the recording; nothing was sent", now)
        else:
            outcome = _finish_succeeded(job, result, now, elapsed=time.monotonic() - started)
    STT_JOB_DURATION.observe(time.monotonic() - started)
    return dataclasses.replace(outcome, run_id=_claimed_record(job).run_id)


def _claimed_record(job: TranscriptionJob) -> CallRecord:
    """The record of a job that :func:`_claim` handed out, which has one (a job without is skipped there)."""
    record = job.call_record
    assert record is not None
    return record


def _transcribe(job: TranscriptionJob, transcriber: Any) -> RecordingTranscript:
    config = settings.APP_CONFIG
    record = _claimed_record(job)
    hint = language_hint(record.run.options.get("language_override"), job.language, config.stt_default_language)
    client = transcriber or transcriber_for_engine(
        config, job.engine, correlation_id=str(record.run_id), call_id=record.call_id
    )
    try:
        # Claimed from downloaded or completed: the audio is stored.
        with default_storage().open(cast(str, record.storage_path), "rb") as audio:
            return transcribe_recording(
                audio, client=client, settings=recording_settings_from_config(config, job.engine), language=hint
            )
    finally:
        if transcriber is None:
            client.close()


def _owned(job: TranscriptionJob) -> bool:
    """Within a transaction: the job is still this attempt's (not released and claimed again)."""
    current = TranscriptionJob.objects.select_for_update().filter(pk=job.pk).values_list("status", "attempts").first()
    return current == (J.RUNNING, job.attempts)


def _settle(
    job: TranscriptionJob,
    *,
    job_status: str,
    record_status: str,
    job_fields: dict[str, Any],
    record_fields: dict[str, Any],
    also: Callable[[], object] | None = None,
) -> bool:
    """End this attempt: the job from ``running`` and its record from ``transcribing``, in one transaction.

    False, and nothing written, when the job is no longer this attempt's.
    """
    with transaction.atomic():
        if not _owned(job):
            return False
        if also is not None:
            also()
        JOB_TRANSITIONS.move(TranscriptionJob, job.pk, job_status, only_from=[J.RUNNING], **job_fields)
        RECORD_TRANSITIONS.move(
            CallRecord, job.call_record_id, record_status, only_from=[S.TRANSCRIBING], **record_fields
        )
    return True


SUPERSEDED = JobOutcome(J.RUNNING, "superseded", worked=False)


def _mask(text: str) -> str:
    config = settings.APP_CONFIG
    return Redactor(config.secrets, mask_pii=config.pii_masking_enabled).text(text)[:MESSAGE_LIMIT]


def _finish_succeeded(
    job: TranscriptionJob, result: RecordingTranscript, now: Callable[[], datetime], *, elapsed: float
) -> JobOutcome:
    record = _claimed_record(job)
    language = result.language or ""
    # The stub engine bills nothing (its settings carry a zero rate); its durations are still measured.
    cost = result.cost_usd
    minutes = 0 if job.engine == STUB_ENGINE else result.billable_minutes
    key = transcript_key(
        call_id=record.call_id,
        record_id=record.record_id,
        recording_url=record.recording_url,
        call_started_at=record.call_started_at,
    )
    # Written before the transaction under a fixed key: a repeated attempt overwrites the same file.
    save_text(key, transcript_file(record, result.text, language))
    metadata = {
        "engine": job.engine,
        "model": result.model,
        "language": language,
        "chunk_count": result.chunk_count,
        "silent_chunk_count": result.silent_chunk_count,
        "audio_seconds": round(result.duration_seconds, 3),
        "billable_seconds": round(result.billable_seconds, 3),
        "billable_minutes": minutes,
        "dialogue": result.dialogue,
        "request_ids": list(result.request_ids),
        "audio_format": result.audio.extension.lstrip("."),
        "codec": result.audio.codec,
        "channels": result.audio.channels,
    }
    settled = _settle(
        job,
        job_status=J.SUCCEEDED,
        record_status=S.COMPLETED,
        job_fields={
            "finished_at": now(),
            "duration_seconds": round(elapsed, 3),
            "audio_seconds": result.billable_seconds,
            "billable_minutes": minutes,
            "cost": cost,
            "model": result.model,
            "next_attempt_at": None,
            "dispatched_at": None,
            "last_error_code": "",
            "last_error_message": "",
        },
        record_fields={
            "transcript_path": key,
            "text_preview": text_preview(result.text),
            "language": language,
            "transcription_cost": cost,
            "audio_duration_sec": result.duration_seconds,
            "error_code": None,
            "error_message": "",
        },
        also=lambda: _transcript_upsert(record, text=result.text, metadata=metadata),
    )
    if not settled:
        return SUPERSEDED
    STT_JOBS.labels(status="success").inc()
    CALL_TRANSCRIPTS.labels(status="completed").inc()
    CALL_EXPORT_SUCCESS.inc()
    CALL_TRANSCRIPTION_MINUTES.inc(minutes)
    CALL_EXPORT_COST.inc(float(cost))
    logger.info(
        "stt.job",
        extra={
            "event": "stt.job",
            "stage": "succeeded",
            "job_id": str(job.pk),
            "call_id": record.call_id,
            "attempt": job.attempts,
            "billable_minutes": minutes,
            "correlation_id": str(record.run_id),
        },
    )
    from calls.summaries import summaries_enabled, summary_for  # summaries read the transcript this module writes

    if summaries_enabled(record.run.options):
        summary_for(record.pk)
    return JobOutcome(J.SUCCEEDED)


def _transcript_upsert(record: CallRecord, *, text: str, metadata: dict[str, Any]) -> None:
    """The record's one transcript, created or replaced in one ``INSERT … ON CONFLICT`` (no savepoints)."""
    Transcript.objects.bulk_create(
        [
            Transcript(
                call_record=record,
                text_full=text,
                text_normalized=None,
                metadata=metadata,
                purged_at=None,
                call_started_at=record.call_started_at,
            )
        ],
        update_conflicts=True,
        unique_fields=["call_record"],
        update_fields=["text_full", "text_normalized", "metadata", "purged_at", "call_started_at", "updated_at"],
    )


def _finish_skipped(job: TranscriptionJob, code: str, message: str, now: Callable[[], datetime]) -> JobOutcome:
    """``no_speech``, ``duration_limit_exceeded`` or ``stt_disabled``: nothing billed, not an error."""
    settled = _settle(
        job,
        job_status=J.SKIPPED,
        record_status=S.SKIPPED,
        job_fields={
            "finished_at": now(),
            "dispatched_at": None,
            "last_error_code": code,
            "last_error_message": _mask(message),
        },
        record_fields={"error_code": code, "error_message": _mask(message), "transcription_cost": 0},
    )
    if not settled:
        return SUPERSEDED
    STT_JOBS.labels(status="skipped").inc()
    CALL_TRANSCRIPTS.labels(status="skipped").inc()
    CALL_EXPORT_SUCCESS.inc()
    logger.info(
        "stt.job",
        extra={"event": "stt.job", "stage": "skipped", "job_id": str(job.pk), "error_code": code},
    )
    return JobOutcome(J.SKIPPED, code)


def _finish_failed(job: TranscriptionJob, error: TranscriptionError, now: Callable[[], datetime]) -> JobOutcome:
    """A retryable failure waits on the STT-06 ladder; the rest, and the last retry, go to the dead letters."""
    delays = settings.APP_CONFIG.stt_retry_delays_s
    code = error.error_code
    message = _mask(str(error))
    CALL_EXPORT_TRANSCRIBE_FAILURES.labels(code=str(error.status_code or code)).inc()
    moment = now()
    # An open circuit sent nothing: the attempt is given back, and the job waits at least as long
    # as the circuit stays open, instead of spending its whole ladder on refusals.
    refused = isinstance(error, ProviderUnavailable)
    if refused or (error.retryable and job.attempts <= len(delays)):
        step = delays[min(job.attempts, len(delays)) - 1]
        wait = max(step, error.retry_after or 0.0, CIRCUIT_OPEN_SECONDS if refused else 0.0)
        retry_at = moment + timedelta(seconds=wait)
        settled = _settle(
            job,
            job_status=J.RETRY_WAIT,
            record_status=S.DOWNLOADED,
            job_fields={
                "attempts": job.attempts - 1 if refused else job.attempts,
                "next_attempt_at": retry_at,
                # Handed to the delayed task now: dispatch leaves it to that task.
                "dispatched_at": retry_at,
                "last_status_code": error.status_code,
                "last_error_code": code,
                "last_error_message": message,
            },
            record_fields={"error_code": code, "error_message": message},
        )
        if not settled:
            return SUPERSEDED
        STT_JOBS.labels(status="retry").inc()
        CALL_EXPORT_RETRY.labels(stage="transcribe").inc()
        _log_failure(job, "retry", code, error.status_code, retry_in=round(wait, 3))
        return JobOutcome(J.RETRY_WAIT, code, retry_at=retry_at)

    final_code = ("max_retries" if code != "unexpected_error" else code) if error.retryable else code
    reason = f"{error.status_code}: {message}" if error.status_code else message
    settled = _settle(
        job,
        job_status=J.DEAD_LETTER,
        record_status=S.ERROR,
        job_fields={
            "failed_at": moment,
            "finished_at": moment,
            "dispatched_at": None,
            "next_attempt_at": None,
            "last_status_code": error.status_code,
            "last_error_code": final_code,
            "last_error_message": message,
            "dlq_reason": reason[:MESSAGE_LIMIT],
        },
        record_fields={
            "error_code": final_code,
            "error_message": message if final_code == code else f"{code}: {message}",
            "transcription_cost": 0,
        },
    )
    if not settled:
        return SUPERSEDED
    STT_JOBS.labels(status="dlq").inc()
    EVENTS_DLQ.labels(event_type="call_export").inc()
    CALL_TRANSCRIPTS.labels(status="error").inc()
    _log_failure(job, "dead_letter", final_code, error.status_code)
    return JobOutcome(J.DEAD_LETTER, final_code)


def _log_failure(job: TranscriptionJob, stage: str, code: str, status_code: int | None, **fields: Any) -> None:
    logger.warning(
        "stt.job",
        extra={
            "event": "stt.job",
            "stage": stage,
            "job_id": str(job.pk),
            "call_id": job.call_id,
            "attempt": job.attempts,
            "error_code": code,
            "status_code": status_code,
            "correlation_id": str(_claimed_record(job).run_id),
            **fields,
        },
    )


# The command's path ---------------------------------------------------------------


def run_in_process(
    run: CallExport,
    *,
    progress: Callable[[str, int, int | None], None],
    sleep: Callable[[float], None] = time.sleep,
    transcriber: Any = None,
) -> None:
    """Every open job of the run's records, one at a time in this process, retries waited for here.

    ``manage.py call_export`` is a foreground process: waiting for a retry
    is its job, not a worker's.  Returns when no job of the run is open, or
    the run was cancelled.
    """
    jobs = TranscriptionJob.objects.filter(call_record__run=run, status__in=[J.QUEUED, J.RETRY_WAIT, J.RUNNING])
    total = jobs.count()
    done = 0
    progress("transcribe", 0, total)
    client = transcriber
    if client is None and jobs.exists():
        try:
            client = transcriber_for_engine(settings.APP_CONFIG, engine_for(run), correlation_id=str(run.run_id))
        except TranscriptionDisabled:
            client = None  # each attempt then ends stt_disabled
    try:
        while CallExport.objects.filter(pk=run.pk, status=CallExportStatus.IN_PROGRESS).exists():
            now = timezone.now()
            ready = list(jobs_ready(now).filter(call_record__run=run).values_list("id", flat=True))
            if not ready:
                waiting = jobs.filter(status=J.RETRY_WAIT).order_by("next_attempt_at").first()
                if waiting is None:
                    break
                pause = max(0.0, ((waiting.next_attempt_at or now) - now).total_seconds())
                progress("transcribe", done, total)
                sleep(min(pause, 60.0))
                continue
            for job_id in ready:
                outcome = job_run(str(job_id), transcriber=client)
                if outcome.status not in (J.RETRY_WAIT, J.RUNNING, J.QUEUED):
                    done += 1
                progress("transcribe", done, total)
    finally:
        if client is not None and transcriber is None:
            client.close()
