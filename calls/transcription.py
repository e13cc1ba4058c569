"""The transcription stage of a call export: one job per stored recording (CALL-15, STT-01…STT-10).

A downloaded record gets a :class:`~calls.models.TranscriptionJob` in the same
transaction; the jobs' queue, hand-out and claims are :mod:`calls.transcription_queue`.
:func:`job_run` makes one attempt: it claims the job within
``TRANSCRIBE_CONCURRENCY``, transcribes the stored audio
through the job's engine and ends the job ``succeeded``, ``skipped``,
``retry_wait`` (with ``next_attempt_at`` on the STT-06 ladder) or
``dead_letter``.  It never sleeps: the django-q2 tasks (:mod:`calls.tasks`)
schedule the retry as a new task, and ``manage.py call_export`` waits in its
own process (:func:`run_in_process`).  Both paths run this one implementation.

Exactly once: the claim bumps ``attempts`` and the result is written only if
the job is still ``running`` with the same ``attempts`` — so an attempt whose
worker was presumed dead (``transcription_queue.release_stale``) and whose job was claimed
again cannot write a second result.  ``Transcript`` is one-to-one with the
record and the cost is set, never added, so a recording is counted once.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, cast

from django.conf import settings
from django.db import transaction
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
from calls.transcription_queue import JobOutcome, claim, engine_for, jobs_ready
from calls.transcripts import text_preview, transcript_file
from integrations.circuitbreaker import OPEN_FOR
from integrations.services import masked_message
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
MESSAGE_LIMIT = 2000
CIRCUIT_OPEN_SECONDS = OPEN_FOR.total_seconds()


# One attempt ------------------------------------------------------------------


def job_run(job_id: str, *, transcriber: Any = None, now: Callable[[], datetime] = timezone.now) -> JobOutcome:
    """One attempt of one job; ``transcriber`` replaces the engine's client (the command reuses one)."""
    claimed = claim(job_id, now())
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
    return masked_message(text, limit=MESSAGE_LIMIT)


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
