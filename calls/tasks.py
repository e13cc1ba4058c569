"""django-q2 tasks of the call export (CALL-16, CALL-17).  Thin: each one calls a service.

Durations are recorded for every task by the platform (mastermobile.q signals).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django_q.tasks import async_task

from calls import downloads, services
from calls.models import MAX_DOWNLOAD_ATTEMPTS, CallExport, CallExportStatus, CallRecord, CallRecordStatus

logger = logging.getLogger(__name__)
S = CallRecordStatus
PENDING_REQUEUE_AFTER = timedelta(minutes=5)


def enqueue_download(record_id: int) -> None:
    async_task("calls.tasks.download_recording", record_id, task_name=f"call_export.download.{record_id}")


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

    So at most ``MAX_PARALLEL_DOWNLOADS`` tasks of a run keep the downloads
    flowing; failed records are retried after 1, 5, 15 and 60 minutes.
    """
    outcome = downloads.record_download(record_id=record_id)
    if outcome.queue_next:
        next_id = downloads.next_download(record_id=record_id)
        if next_id is not None:
            enqueue_download(next_id)
    return outcome.status


def supervise_runs() -> None:
    """Every minute: release stuck records, queue due retries, refresh counters and close finished runs.

    Retries fill the run's free download slots only; the rest wait for a slot
    handed on by a finished download, or for the next minute.
    """
    now = timezone.now()
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
