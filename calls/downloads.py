"""Downloading the recordings of a call export run (CALL-16, CALL-17, STT-20…STT-23).

One download attempt per task: the record is claimed within the run's cap of
parallel downloads, the audio is streamed to storage under its key with a
SHA-256 checksum, and the record ends stored, in a retryable error, or final.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from calls.models import (
    FINAL_RECORD_Q,
    MAX_DOWNLOAD_ATTEMPTS,
    RECORD_TRANSITIONS,
    CallExport,
    CallExportStatus,
    CallRecord,
    CallRecordStatus,
)
from calls.storage import InvalidAudio, audio_extension, audio_key, default_storage, save_stream
from integrations.bitrix24 import (
    Bitrix24AuthError,
    Bitrix24Client,
    Bitrix24Error,
    Bitrix24TransportError,
    Bitrix24Unavailable,
    RequestContext,
    client_from_config,
)
from integrations.services import masked_message
from integrations.stt import AudioConversionFailed, AudioInfo, probe

logger = logging.getLogger(__name__)

S = CallRecordStatus
DOWNLOAD_CHUNK_BYTES = 64 * 1024
# CALL-16: waits before download attempts 2…5.
DOWNLOAD_RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(minutes=60))
# A record left in ``downloading`` this long belonged to a process that died.
STALE_AFTER = timedelta(minutes=30)


def download_concurrency() -> int:
    """CALL-17: downloads of one run in flight at once, whatever the number of worker processes
    (``B24_DOWNLOAD_CONCURRENCY``)."""
    return settings.APP_CONFIG.b24_download_concurrency


def client_for_run(run: CallExport) -> Bitrix24Client:
    return client_from_config(settings.APP_CONFIG, correlation_id=str(run.run_id))


def release_downloading(records: Any) -> int:
    """Records a dead process left in ``downloading`` become a retryable ``error``/``stalled`` (CALL-17).

    The attempt counts: the process may have sent the request.  The record is
    due again after the ladder's wait for that attempt (:func:`retry_due`).
    """
    released = 0
    for record_id in records.filter(status=S.DOWNLOADING).values_list("id", flat=True):
        released += RECORD_TRANSITIONS.move(
            CallRecord, record_id, S.ERROR, only_from=[S.DOWNLOADING], error_code="stalled", error_message=""
        )
    return released


# Listing ---------------------------------------------------------------------


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
    return masked_message(text, limit=2000)


def records_to_download(run: CallExport) -> Any:
    """Records of the run that still need audio: pending, or in a retryable error."""
    return (
        run.records.filter(Q(status=S.PENDING) | Q(status=S.ERROR, checksum__isnull=True))
        .exclude(FINAL_RECORD_Q)
        .filter(download_attempts__lt=MAX_DOWNLOAD_ATTEMPTS)
        .order_by("id")
    )


def retry_due(now: datetime) -> Q:
    """Records in ``error`` whose next attempt is due after 1, 5, 15 or 60 minutes (CALL-16).

    An attempt the circuit breaker refused was given back (``download_attempts``
    unchanged, possibly 0): it is due after the first wait.
    """
    due = Q(status=S.ERROR, download_attempts=0, last_attempt_at__lt=now - DOWNLOAD_RETRY_DELAYS[0])
    for attempt, delay in enumerate(DOWNLOAD_RETRY_DELAYS, start=1):
        due |= Q(status=S.ERROR, download_attempts=attempt, last_attempt_at__lt=now - delay)
    return due


def download_slots_free(run: CallExport) -> int:
    """How many more records of the run may start downloading now (CALL-17)."""
    return max(0, download_concurrency() - run.records.filter(status=S.DOWNLOADING).count())


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
    """Move the record to ``downloading`` while fewer than :func:`download_concurrency` of its run are (CALL-17).

    The run row is locked first, so concurrent claims of one run from any
    worker process queue up and each counts the claims committed before it
    (SQLite starts every transaction with the write lock, which serialises
    them the same way).  False when the cap is full or another task took the record.
    """
    now = timezone.now()
    with transaction.atomic():
        CallExport.objects.select_for_update().values_list("pk", flat=True).get(pk=record.run_id)
        if CallRecord.objects.filter(run_id=record.run_id, status=S.DOWNLOADING).count() >= download_concurrency():
            return False
        return RECORD_TRANSITIONS.move(
            CallRecord,
            record.pk,
            S.DOWNLOADING,
            attempts=record.attempts + 1,
            download_attempts=record.download_attempts + 1,
            last_attempt_at=now,
        )


def record_download(*, record_id: int, client: Bitrix24Client | None = None) -> DownloadOutcome:
    """One download attempt of one recording (CALL-16, STT-22, STT-23), within the run's cap (CALL-17)."""
    record = CallRecord.objects.select_related("run").get(pk=record_id)
    run = record.run
    if run.status == CallExportStatus.CANCELLED or record.audio_purged_at or record.is_final:
        return DownloadOutcome(record.status, record.error_code)
    if (record.storage_path and record.checksum) or record.status not in (S.PENDING, S.ERROR):
        return DownloadOutcome(record.status, record.error_code)
    if not record.has_recording:
        RECORD_TRANSITIONS.move(CallRecord, record.pk, S.SKIPPED, only_from=[S.PENDING], error_code="no_recording")
        return DownloadOutcome(S.SKIPPED, "no_recording")
    if record.download_attempts >= MAX_DOWNLOAD_ATTEMPTS:
        RECORD_TRANSITIONS.move(CallRecord, record.pk, S.ERROR, only_from=[S.ERROR], error_code="max_attempts")
        return DownloadOutcome(S.ERROR, "max_attempts")

    if not _claim_download(record):
        status = CallRecord.objects.filter(pk=record.pk).values_list("status", flat=True).get()
        # Still pending or in error: the cap is full, and the record waits for a slot handed on.
        # Otherwise another task took it, and this one hands its own turn on.
        return DownloadOutcome(status, record.error_code, queue_next=status not in (S.PENDING, S.ERROR))
    before = record
    record = CallRecord.objects.get(pk=record.pk)
    client = client or client_for_run(run)
    context = RequestContext(
        stage="download", event="call_export.recording", call_id=record.call_id, record_id=record.record_id
    )
    try:
        # has_recording (checked above): without a URL, a record id.
        url = record.recording_url or client.disk_download_url(cast(str, record.record_id), context=context)
        with client.open_recording(url, context=context) as response:
            head, body = _peeked(_body(response, client))
            key = audio_key(
                call_id=record.call_id,
                record_id=record.record_id,
                recording_url=record.recording_url,
                call_started_at=record.call_started_at,
                extension=audio_extension(head),
            )
            stored = save_stream(key, body, content_type=response.headers.get("Content-Type"))
    except Bitrix24Unavailable:
        return _download_deferred(before)
    except Bitrix24AuthError as error:
        from calls.services import call_export_fail  # services imports this module

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


def _peeked(chunks: Iterator[bytes]) -> tuple[bytes, Iterator[bytes]]:
    """The first non-empty chunk, and the whole body again (that chunk included)."""
    head = b""
    for chunk in chunks:
        if chunk:
            head = chunk
            break
    return head, itertools.chain([head] if head else [], chunks)


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
    """Audio stored: note its real format and length, then hand it to the transcription stage (CALL-16, STT-01, STT-02).

    STT off → ``skipped``/``stt_disabled`` and no job; longer than
    ``STT_MAX_FILE_MINUTES`` → ``skipped``/``duration_limit_exceeded`` and no job;
    otherwise ``downloaded`` with its job created in the same transaction.
    """
    from calls import transcription_queue  # the queue imports this module's siblings only; avoids a cycle

    if record.checksum and record.checksum != checksum:
        logger.warning(
            "call_export.recording",
            extra={"event": "call_export.recording", "stage": "checksum_changed", "call_id": record.call_id},
        )
    config = settings.APP_CONFIG
    audio = _probe(key)
    fields: dict[str, Any] = {
        "storage_path": key,
        "checksum": checksum,
        "error_code": None,
        "error_message": "",
        "audio_format": audio.extension.lstrip(".") if audio else "",
        "audio_codec": audio.codec[:32] if audio else "",
        "audio_duration_sec": audio.duration_seconds if audio else None,
    }
    status = S.DOWNLOADED
    if not config.stt_enabled:
        status, fields["error_code"] = S.SKIPPED, "stt_disabled"
    elif audio and audio.duration_seconds > config.stt_max_file_minutes * 60:
        status, fields["error_code"] = S.SKIPPED, "duration_limit_exceeded"
        fields["error_message"] = (
            f"the recording lasts {audio.duration_seconds / 60:.1f} min, more than the "
            f"{config.stt_max_file_minutes} min limit; {config.stt_error_hint_413}"
        )
    skip_code = fields.pop("error_code") if status == S.SKIPPED else None
    skip_message = fields.pop("error_message") if status == S.SKIPPED else ""
    with transaction.atomic():
        # CALL-11 skips from ``downloaded``: the audio is stored either way, so re-running
        # the period once the cause is gone needs no new download.
        moved = RECORD_TRANSITIONS.move(CallRecord, record.pk, S.DOWNLOADED, only_from=[S.DOWNLOADING], **fields)
        if moved and status == S.SKIPPED:
            RECORD_TRANSITIONS.move(
                CallRecord,
                record.pk,
                S.SKIPPED,
                only_from=[S.DOWNLOADED],
                error_code=skip_code,
                error_message=skip_message,
            )
        elif moved:
            transcription_queue.job_enqueue(CallRecord.objects.select_related("run").get(pk=record.pk))
    return DownloadOutcome(status, skip_code)


def _probe(key: str) -> AudioInfo | None:
    """Container, codec and duration of the stored file; None when FFmpeg cannot read it.

    An unreadable file is not a download failure: the bytes are what Bitrix24
    holds, and the transcription stage reports ``audio_conversion_failed``.
    """
    try:
        with default_storage().open(key, "rb") as handle:
            return probe(handle)
    except AudioConversionFailed as error:
        logger.warning(
            "call_export.recording",
            extra={"event": "call_export.recording", "stage": "probe_failed", "key": key, "error": str(error)},
        )
        return None


def _download_deferred(before: CallRecord) -> DownloadOutcome:
    """The circuit breaker refused the request (PLAT-64): nothing was sent, so the attempt is given back.

    The record becomes a retryable ``error`` (``integration.unavailable`` unless it had a code) with its attempt
    counters as before the claim; the supervisor queues it again after the
    ladder's wait (:func:`retry_due`).  ``downloading → pending`` is not a move
    CALL-11 allows.
    """
    if before.status == S.ERROR:
        # A failed record keeps its code and its place on the retry ladder.
        code, last_attempt_at, message = before.error_code, before.last_attempt_at, before.error_message
    else:
        code, last_attempt_at, message = Bitrix24Unavailable.code, timezone.now(), ""
    RECORD_TRANSITIONS.move(
        CallRecord,
        before.pk,
        S.ERROR,
        only_from=[S.DOWNLOADING],
        attempts=before.attempts,
        download_attempts=before.download_attempts,
        last_attempt_at=last_attempt_at,
        error_code=code,
        error_message=message,
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
    return DownloadOutcome(S.ERROR, code, queue_next=False)


def _download_failed(record: CallRecord, code: str, message: str, status_code: int | None) -> DownloadOutcome:
    exhausted = record.download_attempts >= MAX_DOWNLOAD_ATTEMPTS
    if exhausted and code in ("http_403", "http_404"):
        status, stored_code = S.MISSING_AUDIO, code
    elif exhausted:
        status, stored_code, message = S.ERROR, "max_attempts", f"{code}: {message}"
    else:
        status, stored_code = S.ERROR, code
    RECORD_TRANSITIONS.move(
        CallRecord, record.pk, status, only_from=[S.DOWNLOADING], error_code=stored_code, error_message=_mask(message)
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
