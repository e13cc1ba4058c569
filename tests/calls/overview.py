"""Call records across a few Moscow days for the overview tests, and a reader of the page's figures."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from calls.models import CallRecord, CallRecordStatus, TranscriptionJob, TranscriptionJobStatus
from tests.calls.transcripts import make_record, make_run

MOSCOW = ZoneInfo("Europe/Moscow")
OVERVIEW_URL = "/admin/calls/callrecord/overview/"


def moscow(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment of October 2026 in Moscow time."""
    return datetime(2026, 10, day, hour, minute, tzinfo=MOSCOW)


def make_call(
    started: datetime, *, status: str = CallRecordStatus.PENDING, minutes: int = 0, **fields: Any
) -> CallRecord:
    """A call with a recording; ``completed`` ones get their cost and a succeeded job billing ``minutes``."""
    if status == CallRecordStatus.COMPLETED:
        fields.setdefault("transcription_cost", Decimal("0.006") * minutes)
    record = make_record(
        fields.pop("run", None) or make_run(),
        call_started_at=started,
        status=status,
        recording_url=fields.pop("recording_url", f"https://portal.example/rec/{started:%d%H%M}"),
        **fields,
    )
    if status == CallRecordStatus.COMPLETED:
        TranscriptionJob.objects.create(
            call_record=record,
            call_id=record.call_id,
            engine="openai-whisper",
            dedup_key=TranscriptionJob.dedup_key_for(record.call_id, record.recording_url, "openai-whisper"),
            status=TranscriptionJobStatus.SUCCEEDED,
            billable_minutes=minutes,
            cost=record.transcription_cost,
        )
    return record


def make_week() -> None:
    """1–3 October 2026: six calls, two at the edges of a Moscow day, one outside the period."""
    run = make_run()
    make_call(moscow(1, 0, 30), status="completed", minutes=3, duration_sec=170, employee_id="101", run=run)
    make_call(moscow(1, 23, 30), status="completed", minutes=2, duration_sec=100, employee_id="101", run=run)
    make_call(moscow(1, 12), status="missing_audio", error_code="http_404", duration_sec=60, employee_id="102", run=run)
    # 00:30 in Moscow on the 2nd is still the 1st in UTC (21:30): it belongs to the 2nd.
    make_call(moscow(2, 0, 30), status="completed", minutes=5, duration_sec=290, employee_id="102", run=run)
    make_call(moscow(2, 15), status="error", error_code="max_retries", duration_sec=40, employee_id="102", run=run)
    make_call(
        moscow(3, 9),
        status="skipped",
        error_code="no_recording",
        recording_url=None,
        record_id=None,
        duration_sec=30,
        employee_id=None,
        run=run,
    )
    make_call(moscow(4, 0, 0), status="completed", minutes=7, duration_sec=400, employee_id="101", run=run)


def tile(html: str, label: str) -> str:
    """The value of the overview tile headed ``label``, as shown."""
    match = re.search(
        rf'<div class="mm-tile-label">{re.escape(label)}</div>\s*<div class="mm-tile-value[^"]*">([^<]*)</div>', html
    )
    assert match, f"no tile {label!r}"
    return match.group(1)


def column(html: str, heading: str) -> str:
    """The tooltip of the chart columns headed ``heading`` (the first chart that has one)."""
    match = re.search(rf"<title>{re.escape(heading)}\n([^<]*)</title>", html)
    assert match, f"no column {heading!r}"
    return match.group(1)
