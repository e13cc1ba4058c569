"""A finished run with known numbers for the report tests (EXP-08)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from calls.models import CallExport, CallExportStatus, CallRecord, CallSummary, TranscriptionJob

# Rows stamp created_at with the real time, so the run starts an hour before the test does.
START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
CALL_STARTED = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def make_run(**fields) -> CallExport:
    defaults = {
        "period_from": datetime(2026, 2, 28, 21, 0, tzinfo=UTC),  # 2026-03-01 00:00 Moscow
        "period_to": datetime(2026, 3, 2, 20, 59, 59, tzinfo=UTC),  # 2026-03-02 23:59:59 Moscow: two days
        "status": CallExportStatus.COMPLETED,
        "started_at": START,
        "finished_at": START + timedelta(minutes=30),
        "options": {"trigger": "cron", "generate_summary": True, "engine": "openai-whisper"},
        "listed_total": 12,
        "checkpoint": {"listed": True, "listed_duration_sec": 1200},
    }
    defaults.update(fields)
    return CallExport.objects.create(**defaults)


def add_record(run: CallExport, call_id: str, *, status: str = "completed", **fields) -> CallRecord:
    defaults = {
        "record_id": f"r-{call_id}",
        "direction": "inbound",
        "from_number": "+79161234567",
        "to_number": "+74950000000",
        "call_started_at": CALL_STARTED,
        "duration_sec": 100,
        "status": status,
        "attempts": 1,
        "download_attempts": 1,
        "last_attempt_at": START + timedelta(minutes=5),
    }
    if status == "completed":
        defaults.update(
            storage_path=f"audio/{call_id}.wav",
            checksum="0" * 64,
            transcription_cost=Decimal("0.012"),
            language="ru",
            text_preview=f"Здравствуйте, звонок {call_id}",
        )
    defaults.update(fields)
    return CallRecord.objects.create(run=run, call_id=call_id, **defaults)


def add_job(record: CallRecord, *, status: str = "succeeded", attempts: int = 1) -> TranscriptionJob:
    return TranscriptionJob.objects.create(
        call_record=record,
        call_id=record.call_id,
        engine="openai-whisper",
        dedup_key=f"job-{record.pk}",
        status=status,
        attempts=attempts,
        started_at=START + timedelta(minutes=6),
        finished_at=START + timedelta(minutes=7),
        duration_seconds=10.0,
        audio_seconds=100.0,
        billable_minutes=2 if status == "succeeded" else 0,
        cost=Decimal("0.012"),
    )


def finished_run(prefix: str = "", **fields) -> CallExport:
    """10 completed (100 s, 0.012 USD, 2 billable minutes each), one error, one missing audio, one skipped.

    Registry seconds 1300 against 1200 listed: 8.33 % apart.  Cost 0.12 USD.
    """
    run = make_run(**fields)
    for index in range(10):
        record = add_record(run, f"{prefix}c{index:02d}")
        add_job(record)
        CallSummary.objects.create(call_record=record, bullets=["a"], storage_path=f"summaries/{record.call_id}.md")
    failed = add_record(
        run,
        f"{prefix}c-err",
        status="error",
        error_code="stt_failed",
        error_message="OpenAI said | no\nclient +79161234567 hung up",
        attempts=3,
    )
    add_job(failed, status="dead_letter", attempts=3)
    add_record(run, f"{prefix}c-miss", status="missing_audio", error_code="no_audio", error_message="404")
    add_record(run, f"{prefix}c-skip", status="skipped", record_id=None, error_code="no_recording", download_attempts=0)
    return run
