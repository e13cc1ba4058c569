"""The small registry the golden file holds: three records whose values exercise every EXP-02 rule."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from calls.models import CallExport, CallExportStatus, CallRecord, CallRecordStatus

GOLDEN_RUN_ID = uuid.UUID("6f1c2a4e-8b7d-4c1e-9a53-2d0e7b9c1f00")
PERIOD_FROM = datetime(2026, 10, 1, tzinfo=UTC)
PERIOD_TO = datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC)


def make_golden_records() -> list[CallRecord]:
    run = CallExport.objects.create(
        run_id=GOLDEN_RUN_ID, period_from=PERIOD_FROM, period_to=PERIOD_TO, status=CallExportStatus.COMPLETED
    )
    common = {"run": run, "direction": "inbound", "to_number": "+74951200000", "currency_code": "USD"}
    return [
        CallRecord.objects.create(
            **common,
            call_id="1001",
            record_id="501",
            employee_id="17",
            from_number="+79161234567",
            call_started_at=datetime(2026, 10, 2, 21, 30, 5, tzinfo=UTC),  # 00:30 on 3 October in Moscow
            duration_sec=156,
            recording_url="https://portal.bitrix24.ru/disk/501.mp3?auth=secret-key&ts=1",
            transcript_path="transcripts/2026/10/02/call_1001_501.txt",
            text_preview='Клиент: заказ 10452; курьер "завтра"\nОператор: хорошо',
            transcription_cost=Decimal("0.015000"),
            language="ru",
            status=CallRecordStatus.COMPLETED,
            attempts=1,
            checksum="ab" * 32,
        ),
        CallRecord.objects.create(
            **common,
            call_id="1002",
            record_id=None,
            employee_id=None,
            from_number="+79030000001",
            call_started_at=datetime(2026, 10, 5, 7, 0, tzinfo=UTC),
            duration_sec=0,
            status=CallRecordStatus.SKIPPED,
            error_code="no_recording",
        ),
        CallRecord.objects.create(
            **common,
            call_id="1003",
            record_id="503",
            employee_id="21",
            from_number="+79031112233",
            call_started_at=datetime(2026, 10, 31, 20, 59, 59, tzinfo=UTC),
            duration_sec=42,
            recording_url="https://portal.bitrix24.ru/disk/503.mp3",
            status=CallRecordStatus.MISSING_AUDIO,
            error_code="http_404",
            attempts=3,
        ),
    ]
