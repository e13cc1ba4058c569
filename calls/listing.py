"""A listed page of Bitrix24 calls written into records (CALL-17): new calls inserted, known ones re-attached.

:func:`calls.services.call_export_list` pages through Bitrix24 and calls
:func:`upsert_page` for each page inside the transaction that saves the
run's checkpoint, or :func:`tally_estimate` for a dry run, which writes no
records.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from calls import transcription_queue
from calls.mapping import record_fields
from calls.models import CallExport, CallRecord, CallRecordStatus

S = CallRecordStatus
# The record's fields that the listing sets (calls.mapping.record_fields), updated on a known call.
LISTED_FIELDS = (
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
)


def tally_estimate(checkpoint: dict[str, Any], items: Iterable[dict[str, Any]]) -> None:
    estimate = checkpoint.setdefault("estimate", {"calls": 0, "with_recording": 0, "duration_sec": 0, "minutes": 0})
    for item in items:
        fields = record_fields(item)
        estimate["calls"] += 1
        estimate["duration_sec"] += fields["duration_sec"]
        if fields["recording_url"] or fields["record_id"]:
            estimate["with_recording"] += 1
            estimate["minutes"] += math.ceil(fields["duration_sec"] / 60)


def upsert_page(run: CallExport, items: list[dict[str, Any]]) -> int:
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
            updated, [*LISTED_FIELDS, "run", "status", "error_code", "error_message", "updated_at"]
        )
        # STT-01: records skipped while STT was off get their job now it is on.
        for row in updated:
            if row.status == S.DOWNLOADED:
                transcription_queue.job_enqueue(row)
    return already_completed
