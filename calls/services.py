"""Call export runs: start, list, download, resume, cancel, finish (CALL-03, CALL-04, CALL-16…CALL-20).

Every function is idempotent against a crash at any point: state lives in
the database, the listing checkpoint is saved in the same transaction as the
records of its page, and a download either stores the whole file and
records its checksum or leaves the record to be retried.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import requests
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from calls.mapping import record_fields
from calls.models import (
    FINAL_RECORD_Q,
    MAX_DOWNLOAD_ATTEMPTS,
    CallExport,
    CallExportStatus,
    CallRecord,
    CallRecordStatus,
    InvalidTransition,
)
from calls.storage import InvalidAudio, audio_key, save_stream, storage_writable
from integrations.bitrix24 import (
    Bitrix24AuthError,
    Bitrix24Client,
    Bitrix24Error,
    Bitrix24TransportError,
    Bitrix24Unavailable,
    RequestContext,
    client_from_config,
)
from mastermobile.observability.logging import Redactor

logger = logging.getLogger(__name__)

S = CallRecordStatus
Progress = Callable[[str, int, int | None], None]
DOWNLOAD_CHUNK_BYTES = 64 * 1024
# CALL-16: waits before download attempts 2…5.
DOWNLOAD_RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(minutes=60))
STALE_AFTER = timedelta(minutes=30)
# CALL-17: downloads of one run in flight at once, whatever the number of worker processes.
MAX_PARALLEL_DOWNLOADS = 4


class CallExportError(Exception):
    """A run cannot be started, resumed or cancelled as asked."""


def _noop(stage: str, done: int, total: int | None) -> None:
    return


def _client(run: CallExport) -> Bitrix24Client:
    return client_from_config(settings.APP_CONFIG, correlation_id=str(run.run_id))


def default_period(today: datetime | None = None, days: int | None = None) -> tuple[datetime, datetime]:
    """CALL-17: today − CALL_EXPORT_DEFAULT_DAYS at 00:00 UTC to today 23:59:59 UTC."""
    day = (today or timezone.now()).astimezone(UTC).date()
    days = settings.APP_CONFIG.call_export_default_days if days is None else days
    return (
        datetime.combine(day - timedelta(days=days), time(0, 0, 0), tzinfo=UTC),
        datetime.combine(day, time(23, 59, 59), tzinfo=UTC),
    )


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
        _release_downloading(run.records.filter(status=S.DOWNLOADING))
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
    return run


def call_export_fail(*, run: CallExport, reason: str) -> CallExport:
    """CALL-03: the run itself failed (listing, authentication, storage, unhandled error)."""
    with transaction.atomic():
        run = CallExport.objects.select_for_update().get(pk=run.pk)
        if run.can_transition_to(CallExportStatus.ERROR):
            run.transition_to(CallExportStatus.ERROR)
            run.options = {**run.options, "error": Redactor(settings.APP_CONFIG.secrets).text(reason)[:1000]}
            run.save(update_fields=["status", "finished_at", "options", "updated_at"])
    logger.error("call_export.failed", extra={"event": "call_export.failed", "correlation_id": str(run.run_id)})
    return run


def _release_downloading(records: Any) -> None:
    records.filter(download_attempts__lte=1).update(status=S.PENDING, updated_at=timezone.now())
    records.filter(download_attempts__gt=1).update(status=S.ERROR, error_code="stalled", updated_at=timezone.now())


# Listing ---------------------------------------------------------------------


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
    client = client or _client(run)
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
                    _tally_estimate(checkpoint, page.items)
                else:
                    checkpoint["already_completed"] = checkpoint.get("already_completed", 0) + _upsert_page(
                        run, page.items
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


def _tally_estimate(checkpoint: dict[str, Any], items: Iterable[dict[str, Any]]) -> None:
    estimate = checkpoint.setdefault("estimate", {"calls": 0, "with_recording": 0, "duration_sec": 0, "minutes": 0})
    for item in items:
        fields = record_fields(item)
        estimate["calls"] += 1
        estimate["duration_sec"] += fields["duration_sec"]
        if fields["recording_url"] or fields["record_id"]:
            estimate["with_recording"] += 1
            estimate["minutes"] += math.ceil(fields["duration_sec"] / 60)


def _upsert_page(run: CallExport, items: list[dict[str, Any]]) -> int:
    """Insert new calls, re-attach unfinished ones; return how many were already ``completed``."""
    mapped: dict[tuple[str, str], dict[str, Any]] = {}
    for item in items:
        fields = record_fields(item)
        if fields["call_id"]:
            mapped.setdefault((fields["call_id"], fields["record_id"] or ""), fields)
    if not mapped:
        return 0
    for attempt in (1, 2):
        try:
            with transaction.atomic():
                return _upsert_mapped(run, mapped)
        except IntegrityError:
            # Another run inserted the same call meanwhile; the second pass finds it.
            if attempt == 2:
                raise
    return 0  # pragma: no cover


def _upsert_mapped(run: CallExport, mapped: dict[tuple[str, str], dict[str, Any]]) -> int:
    existing = CallRecord.objects.select_for_update().filter(call_id__in={key[0] for key in mapped})
    by_key = {(r.call_id, r.record_id or ""): r for r in existing}
    without_record = {r.call_id: r for r in by_key.values() if not r.record_id}
    stt_enabled = settings.APP_CONFIG.stt_enabled
    created: list[CallRecord] = []
    updated: list[CallRecord] = []
    already_completed = 0
    for key, fields in mapped.items():
        # A call first listed before its recording existed keeps its row.
        row = by_key.get(key) or (without_record.pop(key[0], None) if fields["record_id"] else None)
        has_recording = bool(fields["recording_url"] or fields["record_id"])
        if row is None:
            created.append(
                CallRecord(
                    run=run,
                    **fields,
                    status=S.PENDING if has_recording else S.SKIPPED,
                    error_code=None if has_recording else "no_recording",
                )
            )
            continue
        if row.status == S.COMPLETED:
            already_completed += 1
            continue
        for name, value in fields.items():
            setattr(row, name, value)
        row.run = run
        if row.status == S.SKIPPED and row.error_code == "no_recording" and has_recording:
            row.transition_to(S.PENDING)
            row.error_code, row.error_message = None, ""
        elif row.status == S.SKIPPED and row.error_code == "stt_disabled" and stt_enabled and row.storage_path:
            row.transition_to(S.DOWNLOADED)
            row.error_code, row.error_message = None, ""
        updated.append(row)
    CallRecord.objects.bulk_create(created)
    if updated:
        now = timezone.now()
        for row in updated:
            row.updated_at = now
        CallRecord.objects.bulk_update(
            updated, [*record_fields_names(), "run", "status", "error_code", "error_message", "updated_at"]
        )
    return already_completed


def record_fields_names() -> list[str]:
    return [
        "call_id",
        "record_id",
        "direction",
        "from_number",
        "to_number",
        "employee_id",
        "call_started_at",
        "duration_sec",
        "recording_url",
        "raw_payload",
    ]


# Downloads ------------------------------------------------------------------


@dataclass(frozen=True)
class DownloadOutcome:
    """What one download task did.

    ``queue_next`` is False when the task neither used nor gave up a download
    slot of its run (the run's cap was full, or the circuit breaker refused the
    request): then it must not hand a slot on (:func:`next_download`).
    """

    status: str
    error_code: str | None = None
    queue_next: bool = True


def _mask(text: str) -> str:
    config = settings.APP_CONFIG
    return Redactor(config.secrets, mask_pii=config.pii_masking_enabled).text(text)[:2000]


def records_to_download(run: CallExport) -> Any:
    """Records of the run that still need audio: pending, or in a retryable error."""
    return (
        run.records.filter(Q(status=S.PENDING) | Q(status=S.ERROR))
        .exclude(FINAL_RECORD_Q)
        .filter(download_attempts__lt=MAX_DOWNLOAD_ATTEMPTS)
        .order_by("id")
    )


def retry_due(now: datetime) -> Q:
    """Records in ``error`` whose next attempt is due after 1, 5, 15 or 60 minutes (CALL-16)."""
    due = Q()
    for attempt, delay in enumerate(DOWNLOAD_RETRY_DELAYS, start=1):
        due |= Q(status=S.ERROR, download_attempts=attempt, last_attempt_at__lt=now - delay)
    return due


def download_slots_free(run: CallExport) -> int:
    """How many more records of the run may start downloading now (CALL-17)."""
    return max(0, MAX_PARALLEL_DOWNLOADS - run.records.filter(status=S.DOWNLOADING).count())


def next_download(*, record_id: int) -> int | None:
    """The record that takes over the download slot ``record_id`` leaves: the run's first pending or due one.

    None when there is none, or the run was cancelled or failed.  A completed
    run goes on: its records may have been sent back by *Retry download*.
    """
    record = CallRecord.objects.select_related("run").get(pk=record_id)
    if record.run.status in (CallExportStatus.CANCELLED, CallExportStatus.ERROR):
        return None
    ready = Q(status=S.PENDING) | retry_due(timezone.now())
    return records_to_download(record.run).exclude(pk=record_id).filter(ready).values_list("id", flat=True).first()


def _claim_download(record: CallRecord) -> bool:
    """Move the record to ``downloading`` while fewer than ``MAX_PARALLEL_DOWNLOADS`` of its run are (CALL-17).

    The run row is locked first, so concurrent claims of one run from any
    worker process queue up and each counts the claims committed before it
    (SQLite starts every transaction with the write lock, which serialises
    them the same way).  False when the cap is full or another task took the record.
    """
    now = timezone.now()
    with transaction.atomic():
        CallExport.objects.select_for_update().values_list("pk", flat=True).get(pk=record.run_id)
        if CallRecord.objects.filter(run_id=record.run_id, status=S.DOWNLOADING).count() >= MAX_PARALLEL_DOWNLOADS:
            return False
        claimed = CallRecord.objects.filter(pk=record.pk, status__in=[S.PENDING, S.ERROR]).update(
            status=S.DOWNLOADING,
            attempts=record.attempts + 1,
            download_attempts=record.download_attempts + 1,
            last_attempt_at=now,
            updated_at=now,
        )
    return claimed == 1


def record_download(*, record_id: int, client: Bitrix24Client | None = None) -> DownloadOutcome:
    """One download attempt of one recording (CALL-16, STT-22, STT-23), within the run's cap (CALL-17)."""
    record = CallRecord.objects.select_related("run").get(pk=record_id)
    run = record.run
    if run.status == CallExportStatus.CANCELLED or record.audio_purged_at or record.is_final:
        return DownloadOutcome(record.status, record.error_code)
    if (record.storage_path and record.checksum) or record.status not in (S.PENDING, S.ERROR):
        return DownloadOutcome(record.status, record.error_code)
    if not record.has_recording:
        if record.can_transition_to(S.SKIPPED):
            CallRecord.objects.filter(pk=record.pk).update(
                status=S.SKIPPED, error_code="no_recording", updated_at=timezone.now()
            )
        return DownloadOutcome(S.SKIPPED, "no_recording")
    if record.download_attempts >= MAX_DOWNLOAD_ATTEMPTS:
        CallRecord.objects.filter(pk=record.pk, status__in=[S.PENDING, S.ERROR]).update(
            status=S.ERROR, error_code="max_attempts", updated_at=timezone.now()
        )
        return DownloadOutcome(S.ERROR, "max_attempts")

    if not _claim_download(record):
        status = CallRecord.objects.filter(pk=record.pk).values_list("status", flat=True).get()
        # Still pending or in error: the cap is full, and the record waits for a slot handed on.
        # Otherwise another task took it, and this one hands its own turn on.
        return DownloadOutcome(status, record.error_code, queue_next=status not in (S.PENDING, S.ERROR))
    before = record
    record = CallRecord.objects.get(pk=record.pk)
    client = client or _client(run)
    context = RequestContext(
        stage="download", event="call_export.recording", call_id=record.call_id, record_id=record.record_id
    )
    key = audio_key(
        call_id=record.call_id,
        record_id=record.record_id,
        recording_url=record.recording_url,
        call_started_at=record.call_started_at,
    )
    try:
        url = record.recording_url or client.disk_download_url(record.record_id, context=context)
        with client.open_recording(url, context=context) as response:
            stored = save_stream(
                key,
                _body(response, client),
                content_type=response.headers.get("Content-Type"),
            )
    except Bitrix24Unavailable:
        return _download_deferred(before)
    except Bitrix24AuthError as error:
        outcome = _download_failed(record, error.code, str(error), error.status_code)
        call_export_fail(run=run, reason=f"download authentication failed: {error}")
        return outcome
    except Bitrix24Error as error:
        return _download_failed(record, error.code, str(error), error.status_code)
    except InvalidAudio as error:
        return _download_failed(record, "invalid_audio", str(error), 200)
    except Exception as error:  # storage backends raise their own types (OSError, botocore…)
        logger.exception(
            "call_export.recording",
            extra={"event": "call_export.recording", "stage": "failure", "call_id": record.call_id},
        )
        return _download_failed(record, "storage_error", f"{error.__class__.__name__}: {error}", None)
    return _download_succeeded(record, stored.key, stored.sha256)


def _body(response: requests.Response, client: Bitrix24Client) -> Iterator[bytes]:
    """The response chunks, with transport failures mid-stream turned into Bitrix24 errors."""
    try:
        yield from response.iter_content(DOWNLOAD_CHUNK_BYTES)
    except requests.RequestException as error:
        timeout = isinstance(error, requests.Timeout) or "timed out" in str(error).lower()
        raise Bitrix24TransportError(
            f"recording stream broken ({error.__class__.__name__})", url=client.mask(response.url), timeout=timeout
        ) from None


def _download_succeeded(record: CallRecord, key: str, checksum: str) -> DownloadOutcome:
    if record.checksum and record.checksum != checksum:
        logger.warning(
            "call_export.recording",
            extra={"event": "call_export.recording", "stage": "checksum_changed", "call_id": record.call_id},
        )
    stt_enabled = settings.APP_CONFIG.stt_enabled
    status, code = (S.DOWNLOADED, None) if stt_enabled else (S.SKIPPED, "stt_disabled")
    CallRecord.objects.filter(pk=record.pk).update(
        storage_path=key,
        checksum=checksum,
        status=status,
        error_code=code,
        error_message="",
        updated_at=timezone.now(),
    )
    return DownloadOutcome(status, code)


def _download_deferred(before: CallRecord) -> DownloadOutcome:
    """The circuit breaker refused the request (PLAT-64): nothing was sent, so the attempt is given back.

    The record returns to its state before the claim; the supervisor queues
    it again (a ``pending`` one after 5 minutes, an ``error`` one when due).
    """
    CallRecord.objects.filter(pk=before.pk, status=S.DOWNLOADING).update(
        status=before.status,
        attempts=before.attempts,
        download_attempts=before.download_attempts,
        last_attempt_at=before.last_attempt_at,
        updated_at=timezone.now(),
    )
    logger.info(
        "call_export.recording",
        extra={
            "event": "call_export.recording",
            "stage": "deferred",
            "call_id": before.call_id,
            "record_id": before.record_id,
            "error_code": Bitrix24Unavailable.code,
            "correlation_id": str(before.run_id),
        },
    )
    return DownloadOutcome(before.status, before.error_code, queue_next=False)


def _download_failed(record: CallRecord, code: str, message: str, status_code: int | None) -> DownloadOutcome:
    exhausted = record.download_attempts >= MAX_DOWNLOAD_ATTEMPTS
    if exhausted and code in ("http_403", "http_404"):
        status, stored_code = S.MISSING_AUDIO, code
    elif exhausted:
        status, stored_code, message = S.ERROR, "max_attempts", f"{code}: {message}"
    else:
        status, stored_code = S.ERROR, code
    CallRecord.objects.filter(pk=record.pk).update(
        status=status, error_code=stored_code, error_message=_mask(message), updated_at=timezone.now()
    )
    logger.warning(
        "call_export.recording",
        extra={
            "event": "call_export.recording",
            "stage": "failure",
            "call_id": record.call_id,
            "record_id": record.record_id,
            "attempt": record.download_attempts,
            "status_code": status_code,
            "error_code": stored_code,
            "correlation_id": str(record.run_id),
        },
    )
    return DownloadOutcome(status, stored_code)


# Counters and finishing -----------------------------------------------------


def call_export_refresh(*, run: CallExport) -> CallExport:
    """Recount the run's records; close it when listing is done and every record is final (CALL-03)."""
    with transaction.atomic():
        run = CallExport.objects.select_for_update().get(pk=run.pk)
        checkpoint = run.checkpoint
        if run.is_dry_run:
            _apply_estimate(run)
        else:
            _apply_counters(run, int(checkpoint.get("already_completed", 0)))
        finished = checkpoint.get("listed") and (run.is_dry_run or not run.records.exclude(FINAL_RECORD_Q).exists())
        if finished and run.status == CallExportStatus.IN_PROGRESS:
            run.transition_to(CallExportStatus.COMPLETED)
        run.save()
    return run


def _apply_counters(run: CallExport, already_completed: int) -> None:
    counts = run.records.aggregate(
        total=Count("id"),
        final=Count("id", filter=FINAL_RECORD_Q),
        errors=Count("id", filter=Q(status=S.ERROR)),
        missing=Count("id", filter=Q(status=S.MISSING_AUDIO)),
        skipped=Count("id", filter=Q(status=S.SKIPPED)),
        seconds=Sum("duration_sec"),
        cost=Sum("transcription_cost"),
    )
    run.total_calls = counts["total"] + already_completed
    run.processed_calls = counts["final"] + already_completed
    run.error_calls = counts["errors"]
    run.missing_audio_calls = counts["missing"]
    run.skipped_calls = counts["skipped"]
    run.total_duration_sec = counts["seconds"] or 0
    run.total_cost = Decimal(counts["cost"] or 0).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


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


# In-process pipeline --------------------------------------------------------


def call_export_process(*, run: CallExport, progress: Progress = _noop) -> CallExport:
    """List, download and close a run in this process (``manage.py call_export`` without a cluster).

    One download attempt per record and pass; records left in a retryable
    ``error`` wait for the supervisor schedule or the next ``--resume``.
    """
    client = _client(run)
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
    return call_export_refresh(run=run)
