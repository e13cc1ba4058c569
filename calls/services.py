"""Call export runs: start, list, resume, cancel, finish (CALL-03, CALL-04, CALL-18…CALL-20).

Downloading the recordings lives in :mod:`calls.downloads`.

Every function is idempotent against a crash at any point: state lives in
the database, the listing checkpoint is saved in the same transaction as the
records of its page, and a download either stores the whole file and
records its checksum or leaves the record to be retried.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from calls import listing, reports, transcription
from calls.downloads import client_for_run, record_download, records_to_download, release_downloading
from calls.mapping import listed_duration_sec
from calls.models import (
    FINAL_RECORD_Q,
    OPEN_JOB_STATUSES,
    RECORD_TRANSITIONS,
    CallExport,
    CallExportStatus,
    CallRecord,
    CallRecordStatus,
    InvalidTransition,
    TranscriptionJob,
    TranscriptionJobStatus,
)
from calls.storage import storage_writable
from integrations.bitrix24 import (
    Bitrix24Client,
    Bitrix24Error,
)
from mastermobile.errors import DomainError
from mastermobile.observability.logging import Redactor
from mastermobile.observability.metrics import CALL_EXPORT_DURATION, CALL_EXPORT_RUNS

logger = logging.getLogger(__name__)

S = CallRecordStatus
Progress = Callable[[str, int, int | None], None]


class CallExportError(DomainError):
    """A run cannot be started, resumed or cancelled as asked (400 from the API)."""

    problem_type = "bad-request"


def _noop(stage: str, done: int, total: int | None) -> None:
    return


def local_day_range(first_day: date, last_day: date) -> tuple[datetime, datetime]:
    """Whole days as staff mean them: ``first_day`` 00:00:00 to ``last_day`` 23:59:59 in CALL_EXPORT_TIMEZONE."""
    zone = ZoneInfo(settings.APP_CONFIG.call_export_timezone)
    return (
        datetime.combine(first_day, time(0, 0, 0), tzinfo=zone),
        datetime.combine(last_day, time(23, 59, 59), tzinfo=zone),
    )


def default_period(today: datetime | None = None, days: int | None = None) -> tuple[datetime, datetime]:
    """CALL-17: the last CALL_EXPORT_DEFAULT_DAYS days and today, whole days in CALL_EXPORT_TIMEZONE.

    The specification counts the days in UTC; ours are the operator's days
    (docs/decisions.md), so a Moscow "today" is not cut at 03:00.
    """
    zone = ZoneInfo(settings.APP_CONFIG.call_export_timezone)
    day = (today or timezone.now()).astimezone(zone).date()
    days = settings.APP_CONFIG.call_export_default_days if days is None else days
    return local_day_range(day - timedelta(days=days), day)


# Start, resume, cancel ------------------------------------------------------


def call_export_start(
    *, period_from: datetime, period_to: datetime, actor: Any = None, options: dict[str, Any] | None = None
) -> tuple[CallExport, bool]:
    """Create a ``pending`` run, or return the active run for the same period and actor (CALL-04).

    Returns ``(run, created)``.  Queuing the listing is the caller's choice
    (:func:`call_export_enqueue` or :func:`call_export_process`).
    """
    if period_to < period_from:
        raise CallExportError("The period ends before it starts.")
    period_from, period_to = period_from.astimezone(UTC), period_to.astimezone(UTC)
    active = CallExport.objects.active().filter(period_from=period_from, period_to=period_to, actor=actor)
    existing = active.first()
    if existing:
        return existing, False
    try:
        with transaction.atomic():
            run = CallExport.objects.create(
                period_from=period_from, period_to=period_to, actor=actor, options=dict(options or {})
            )
    except IntegrityError:
        existing = active.first()
        if existing is None:
            raise
        return existing, False
    logger.info(
        "call_export.started",
        extra={"event": "call_export.started", "correlation_id": str(run.run_id), "options": run.options},
    )
    return run, True


def call_export_enqueue(run: CallExport) -> None:
    """Queue the listing task on django-q2 once the current transaction commits."""
    from django_q.tasks import async_task

    run_id = str(run.run_id)
    transaction.on_commit(lambda: async_task("calls.tasks.list_calls", run_id, task_name=f"call_export.list.{run_id}"))


def call_export_resume(*, run: CallExport) -> CallExport:
    """OPS-14: ``error`` → ``in_progress``; a dead ``in_progress`` run continues as it is.

    Records a dead process left in ``downloading`` go back to be retried.
    """
    with transaction.atomic():
        run = CallExport.objects.select_for_update().get(pk=run.pk)
        if run.status == CallExportStatus.ERROR:
            run.transition_to(CallExportStatus.IN_PROGRESS)
            run.save(update_fields=["status", "finished_at", "updated_at"])
        elif run.status not in (CallExportStatus.IN_PROGRESS, CallExportStatus.PENDING):
            raise CallExportError(f"A {run.status} run cannot be resumed.")
        release_downloading(run.records.filter(status=S.DOWNLOADING))
    return run


def call_export_cancel(*, run: CallExport) -> CallExport:
    """CALL-19: records keep their state; queued tasks see the status and do nothing."""
    with transaction.atomic():
        run = CallExport.objects.select_for_update().get(pk=run.pk)
        try:
            run.transition_to(CallExportStatus.CANCELLED)
        except InvalidTransition as error:
            raise CallExportError(str(error)) from None
        run.save(update_fields=["status", "finished_at", "updated_at"])
    _count_finished(run)
    return run


def call_export_fail(*, run: CallExport, reason: str) -> CallExport:
    """CALL-03: the run itself failed (listing, authentication, storage, unhandled error)."""
    with transaction.atomic():
        run = CallExport.objects.select_for_update().get(pk=run.pk)
        if run.can_transition_to(CallExportStatus.ERROR):
            run.transition_to(CallExportStatus.ERROR)
            run.error_message = Redactor(settings.APP_CONFIG.secrets).text(reason)[:1000]
            run.save(update_fields=["status", "finished_at", "error_message", "updated_at"])
            transaction.on_commit(lambda: _count_finished(run))
    logger.error(
        "call_export.failed: %s",
        run.error_message,
        extra={"event": "call_export.failed", "correlation_id": str(run.run_id), "reason": run.error_message},
    )
    return run


def _is_active(run: CallExport) -> bool:
    return CallExport.objects.filter(pk=run.pk, status=CallExportStatus.IN_PROGRESS).exists()


def call_export_list(*, run: CallExport, client: Bitrix24Client | None = None, progress: Progress = _noop) -> bool:
    """Page through Bitrix24 from the checkpoint and upsert the records (CALL-17, CALL-18).

    Returns False when the run was cancelled or is not runnable.  A Bitrix24
    failure after retries moves the run to ``error`` and is re-raised.
    """
    with transaction.atomic():
        run = CallExport.objects.select_for_update().get(pk=run.pk)
        if run.status in (CallExportStatus.PENDING, CallExportStatus.ERROR):
            run.transition_to(CallExportStatus.IN_PROGRESS)
            run.save(update_fields=["status", "finished_at", "updated_at"])
        elif run.status != CallExportStatus.IN_PROGRESS:
            return False
    checkpoint = dict(run.checkpoint)
    if checkpoint.get("listed"):
        return True
    client = client or client_for_run(run)
    start = int(checkpoint.get("next") or 0)
    progress("listing", int(checkpoint.get("seen", 0)), run.listed_total)
    try:
        for page in client.iter_call_pages(run.period_from, run.period_to, start=start):
            with transaction.atomic():
                run = CallExport.objects.select_for_update().get(pk=run.pk)
                if run.status != CallExportStatus.IN_PROGRESS:
                    return False
                checkpoint = dict(run.checkpoint)
                if run.is_dry_run:
                    listing.tally_estimate(checkpoint, page.items)
                else:
                    checkpoint["already_completed"] = checkpoint.get("already_completed", 0) + listing.upsert_page(
                        run, page.items
                    )
                # EXP-08 compares the registry's seconds with the listing's own sum, kept here as Bitrix24 said it.
                checkpoint["listed_duration_sec"] = checkpoint.get("listed_duration_sec", 0) + sum(
                    listed_duration_sec(item) for item in page.items
                )
                checkpoint["seen"] = checkpoint.get("seen", 0) + len(page.items)
                checkpoint["pages"] = checkpoint.get("pages", 0) + 1
                checkpoint["next"] = page.next
                checkpoint["listed"] = page.next is None
                if page.total is not None and run.listed_total is None:
                    run.listed_total = page.total
                run.checkpoint = checkpoint
                run.save(update_fields=["checkpoint", "listed_total", "updated_at"])
            progress("listing", checkpoint["seen"], run.listed_total)
    except Bitrix24Error as error:
        call_export_fail(run=run, reason=f"listing failed: {error.code}: {error}")
        raise
    if not checkpoint.get("listed"):
        # An empty period answers one page without ``next``; nothing else ends the loop early.
        CallExport.objects.filter(pk=run.pk).update(checkpoint={**checkpoint, "listed": True})
    return True


# Downloads ------------------------------------------------------------------


def call_export_refresh(*, run: CallExport, package_inline: bool = False) -> CallExport:
    """Recount the run's records; close it when listing is done and every record is final (CALL-03).

    A run closed here gets its export package (EXP-07): built now with ``package_inline``
    (the in-process pipeline, where no worker may be running), otherwise queued.
    """
    with transaction.atomic():
        run = CallExport.objects.select_for_update().get(pk=run.pk)
        checkpoint = run.checkpoint
        if run.is_dry_run:
            _apply_estimate(run)
        else:
            _apply_counters(run, int(checkpoint.get("already_completed", 0)))
        finished = checkpoint.get("listed") and (run.is_dry_run or not run.records.exclude(FINAL_RECORD_Q).exists())
        closed = finished and run.status == CallExportStatus.IN_PROGRESS
        if closed:
            run.transition_to(CallExportStatus.COMPLETED)
        run.save()
    if closed:
        _count_finished(run)
        if not run.is_dry_run:
            if package_inline:
                call_export_package_safely(run_id=run.run_id)
            else:
                _enqueue_package(run)
    return run


def call_export_close_if_done(*, run_id: Any) -> None:
    """After a task: close the run now if it has nothing left open, rather than at the supervisor's next minute.

    While a job of the run is still open (found through the jobs' status index) its record is not
    final either, and that is the one query; only then are the run's records looked at, in one query.
    A run this misses (a final record whose job is open) closes at the supervisor's next minute.
    """
    open_jobs = TranscriptionJob.objects.filter(call_record__run_id=run_id, status__in=OPEN_JOB_STATUSES)
    if open_jobs.exists():
        return
    open_records = CallRecord.objects.filter(run=OuterRef("pk")).exclude(FINAL_RECORD_Q)
    run = (
        CallExport.objects.filter(pk=run_id, status=CallExportStatus.IN_PROGRESS).filter(~Exists(open_records)).first()
    )
    if run is not None and run.checkpoint.get("listed"):
        call_export_refresh(run=run)


def _count_finished(run: CallExport) -> None:
    CALL_EXPORT_RUNS.labels(status=run.status).inc()
    if run.finished_at:
        CALL_EXPORT_DURATION.labels(status=run.status).observe((run.finished_at - run.started_at).total_seconds())


def _apply_counters(run: CallExport, already_completed: int) -> None:
    counts = run.records.aggregate(
        total=Count("id"),
        final=Count("id", filter=FINAL_RECORD_Q),
        downloaded=Count("id", filter=Q(storage_path__isnull=False, checksum__isnull=False)),
        errors=Count("id", filter=Q(status=S.ERROR)),
        missing=Count("id", filter=Q(status=S.MISSING_AUDIO)),
        seconds=Sum("duration_sec"),
        cost=Sum("transcription_cost"),
    )
    skipped = (
        run.records.filter(status=S.SKIPPED)
        .values_list("error_code")
        .annotate(count=Count("id"))
        .order_by("error_code")
    )
    run.total_calls = counts["total"] + already_completed
    run.processed_calls = counts["final"] + already_completed
    run.downloaded_calls = counts["downloaded"]
    run.error_calls = counts["errors"]
    run.missing_audio_calls = counts["missing"]
    run.skipped_by_reason = {code or "unknown": count for code, count in skipped}
    run.skipped_calls = sum(run.skipped_by_reason.values())
    run.total_duration_sec = counts["seconds"] or 0
    # STT-10: the sum of the unrounded record costs, rounded half-up to cents once.
    run.total_cost = Decimal(counts["cost"] or 0).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    run.transcribed_minutes = (
        TranscriptionJob.objects.filter(
            call_record__run=run, call_record__status=S.COMPLETED, status=TranscriptionJobStatus.SUCCEEDED
        ).aggregate(minutes=Sum("billable_minutes"))["minutes"]
        or 0
    )


def _apply_estimate(run: CallExport) -> None:
    config = settings.APP_CONFIG
    estimate = dict(
        run.checkpoint.get("estimate") or {"calls": 0, "with_recording": 0, "duration_sec": 0, "minutes": 0}
    )
    cost = (Decimal(estimate["minutes"]) * config.whisper_rate_per_min_usd).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )
    estimate.update(cost_usd=str(cost), stt_enabled=config.stt_enabled)
    if "storage_writable" not in run.options.get("estimate", {}):
        estimate["storage_writable"] = storage_writable()
    else:
        estimate["storage_writable"] = run.options["estimate"]["storage_writable"]
    run.options = {**run.options, "estimate": estimate}
    run.total_calls = estimate["calls"]
    run.total_duration_sec = estimate["duration_sec"]


def record_retry_download(records: QuerySet[CallRecord]) -> tuple[int, int]:
    """The admin's *Retry download*: failed downloads start over with five fresh attempts.

    Only a download-stage ``error`` (no stored audio) qualifies; ``missing_audio``
    is final (CALL-11) and everything else is not a failed download.  Returns
    ``(queued, left_alone)``.
    """
    from calls.tasks import enqueue_download  # tasks imports this module

    ids = list(records.values_list("id", flat=True))
    queued = []
    for record_id in ids:
        moved = RECORD_TRANSITIONS.move(
            CallRecord.objects.filter(checksum__isnull=True),
            record_id,
            S.ERROR,
            only_from=[S.ERROR],
            download_attempts=0,
            error_code=None,
            error_message="",
        )
        if moved:
            queued.append(record_id)
    for record_id in queued:
        transaction.on_commit(functools.partial(enqueue_download, record_id))
    return len(queued), len(ids) - len(queued)


# Export package (EXP-07) ----------------------------------------------------


def _enqueue_package(run: CallExport) -> None:
    from django_q.tasks import async_task

    run_id = str(run.run_id)
    transaction.on_commit(
        lambda: async_task("calls.tasks.build_export_package", run_id, task_name=f"call_export.package.{run_id}")
    )


def call_export_report(*, run: CallExport) -> str:
    """Regenerate the run's report (QA verdicts as entered now); return its storage key."""
    return reports.build_report(run)


def call_export_package(*, run: CallExport) -> list[str]:
    """Write the run's registry, report and stage log; return their keys.  Raises on failure."""
    keys = reports.build_package(run)
    CallExport.objects.filter(pk=run.pk).update(package_built_at=timezone.now(), package_error="")
    return [keys.registry, keys.report, keys.log]


def call_export_package_safely(*, run_id: Any) -> list[str]:
    """:func:`call_export_package` for the end of a run: a failure is logged and kept on the run, never raised,
    so that the run itself stays completed."""
    run = CallExport.objects.get(pk=run_id)
    try:
        return call_export_package(run=run)
    except Exception as error:  # storage, template or data: the run is done whatever the package does
        reason = Redactor(settings.APP_CONFIG.secrets).text(f"{type(error).__name__}: {error}")[:1000]
        CallExport.objects.filter(pk=run.pk).update(package_error=reason)
        logger.exception(
            "call_export.package_failed",
            extra={"event": "call_export.package_failed", "correlation_id": str(run.run_id)},
        )
        return []


# In-process pipeline --------------------------------------------------------


def call_export_process(*, run: CallExport, progress: Progress = _noop) -> CallExport:
    """List, download, transcribe and close a run in this process (``manage.py call_export`` without a cluster).

    One download attempt per record and pass; records left in a retryable
    ``error`` wait for the supervisor schedule or the next ``--resume``.
    Transcription runs the same attempts as the worker's tasks
    (:func:`calls.transcription.run_in_process`), retries waited for here.
    """
    client = client_for_run(run)
    if not call_export_list(run=run, client=client, progress=progress):
        return CallExport.objects.get(pk=run.pk)
    run.refresh_from_db()
    if not run.is_dry_run:
        pending = list(records_to_download(run).values_list("id", flat=True))
        progress("download", 0, len(pending))
        for done, record_id in enumerate(pending, start=1):
            if not _is_active(run):
                break
            record_download(record_id=record_id, client=client)
            progress("download", done, len(pending))
        transcription.run_in_process(run, progress=progress)
    return call_export_refresh(run=run, package_inline=True)
