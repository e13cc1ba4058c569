"""Transcribed call records for the search and admin tests, made the way the pipeline leaves them (STT-08)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any

from django.utils import timezone

from calls.models import CallExport, CallExportStatus, CallRecord, CallRecordStatus, CallSummary, Transcript

DIALOGUE = (
    "Оператор: Здравствуйте, MasterMobile, меня зовут Мария.\n"
    "Клиент: Добрый день. Я оформил заказ вчера, но курьер так и не приехал.\n"
    "Оператор: Назовите, пожалуйста, номер заказа.\n"
    "Клиент: Заказ 10452, доставка на Тверскую.\n"
    "Оператор: Вижу, курьер приедет завтра с 10 до 14 часов."
)
_numbers = count(1)


def make_run() -> CallExport:
    """A finished run: only one active run per period may exist, finished ones may repeat."""
    return CallExport.objects.create(
        period_from=datetime(2026, 9, 1, tzinfo=UTC),
        period_to=datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC),
        status=CallExportStatus.COMPLETED,
    )


def make_record(run: CallExport | None = None, **fields: Any) -> CallRecord:
    number = next(_numbers)
    defaults = {
        "call_id": f"call-{number:05d}",
        "record_id": f"rec-{number:05d}",
        "direction": "inbound",
        "from_number": "+79161234567",
        "to_number": "+74951200000",
        "duration_sec": 156,
        "call_started_at": datetime(2026, 10, 1, 9, 0, tzinfo=UTC) + timedelta(hours=number),
        "status": CallRecordStatus.PENDING,
    }
    return CallRecord.objects.create(run=run or make_run(), **{**defaults, **fields})


def make_transcribed(
    text: str = DIALOGUE,
    *,
    run: CallExport | None = None,
    bullets: list[str] | None = None,
    purged: bool = False,
    **fields: Any,
) -> CallRecord:
    """A completed record with its Transcript (and CallSummary when ``bullets`` are given)."""
    record = make_record(
        run,
        status=CallRecordStatus.COMPLETED,
        language="ru",
        text_preview=text[:200],
        transcription_cost=Decimal("0.018000"),
        transcript_path="transcripts/2026/10/01/call.txt",
        **fields,
    )
    Transcript.objects.create(
        call_record=record,
        text_full="" if purged else text,
        metadata={
            "engine": "openai-whisper",
            "model": "whisper-1",
            "language": "ru",
            "chunk_count": 2,
            "audio_seconds": 156.4,
            "billable_minutes": 3,
            "request_ids": ["req_1", "req_2"],
            "dialogue": text.startswith("Оператор:"),
        },
        purged_at=timezone.now() if purged else None,
    )
    if bullets:
        CallSummary.objects.create(call_record=record, bullets=bullets, storage_path="summaries/2026/10/01/call.md")
    return record
