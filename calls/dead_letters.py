"""Operator actions on the transcription stage (STT-07): requeue a dead letter, re-transcribe a record.

Both are audited in the job's ``history``: who, when, why, the request id,
``call_id`` and ``record_id``.  Handing the job to a worker is the caller's
(``calls.tasks.dispatch_transcriptions``), after its transaction.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from calls.models import (
    JOB_TRANSITIONS,
    RECORD_TRANSITIONS,
    CallRecord,
    CallRecordStatus,
    TranscriptionJob,
    TranscriptionJobStatus,
)
from calls.transcription_queue import fresh_job_fields, job_enqueue

logger = logging.getLogger(__name__)

J = TranscriptionJobStatus
S = CallRecordStatus


class JobNotRequeueable(Exception):
    """Only a dead-lettered job can be requeued (STT-07), only a completed record re-transcribed."""


def _audit_entry(action: str, *, actor: Any, reason: str, request_id: str | None, job: TranscriptionJob) -> dict:
    return {
        "action": action,
        "actor": getattr(actor, "get_username", lambda: str(actor or "system"))(),
        "at": timezone.now().isoformat(),
        "reason": reason,
        "request_id": request_id,
        "call_id": job.call_id,
        "record_id": job.call_record_id,
    }


def job_requeue(
    job_id: Any, *, actor: Any, reason: str = "manual_requeue", request_id: str | None = None
) -> TranscriptionJob:
    """STT-07: a dead letter back to ``queued``, its record back to ``downloaded`` with the errors cleared; audited."""
    with transaction.atomic():
        job = TranscriptionJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status != J.DEAD_LETTER:
            raise JobNotRequeueable("only a dead-lettered transcription job can be requeued")
        entry = _audit_entry("requeue", actor=actor, reason=reason, request_id=request_id, job=job)
        JOB_TRANSITIONS.move(TranscriptionJob, job.pk, J.QUEUED, history=[*job.history, entry], **fresh_job_fields())
        if job.call_record_id is not None:
            RECORD_TRANSITIONS.move(
                CallRecord,
                job.call_record_id,
                S.DOWNLOADED,
                only_from=[S.ERROR],
                error_code=None,
                error_message="",
                last_attempt_at=timezone.now(),
            )
    logger.info("stt.job", extra={"event": "stt.job", "stage": "requeued", **entry})
    return TranscriptionJob.objects.get(pk=job.pk)


def record_retranscribe(
    record_id: int, *, actor: Any, reason: str = "retranscribe", request_id: str | None = None
) -> TranscriptionJob:
    """An operator's *Re-transcribe* of a completed record (CALL-11 ``completed → transcribing`` at pick-up)."""
    with transaction.atomic():
        record = CallRecord.objects.select_for_update().select_related("run").filter(pk=record_id).first()
        if record is None or record.status != S.COMPLETED or not record.storage_path or record.audio_purged_at:
            raise JobNotRequeueable("only a completed record whose audio is still stored can be re-transcribed")
        job = job_enqueue(record)
        if job.status != J.QUEUED:
            job = TranscriptionJob.objects.get(pk=job.pk)
        entry = _audit_entry("retranscribe", actor=actor, reason=reason, request_id=request_id, job=job)
        TranscriptionJob.objects.filter(pk=job.pk).update(history=[*job.history, entry])
    return TranscriptionJob.objects.get(pk=job.pk)
