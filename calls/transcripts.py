"""What a finished transcription is stored as (STT-08): the transcript file and the record's preview."""

from __future__ import annotations

from datetime import UTC

from calls.models import CallRecord

PREVIEW_BYTES = 1024


def text_preview(text: str) -> str:
    """STT-08: the first 1024 UTF-8 bytes, cut on a character boundary."""
    return text.encode("utf-8")[:PREVIEW_BYTES].decode("utf-8", errors="ignore")


def transcript_file(record: CallRecord, text: str, language: str) -> str:
    """STT-08: header lines, ``---``, then the text; UTF-8 without BOM."""
    started = record.call_started_at.astimezone(UTC).isoformat() if record.call_started_at else ""
    header = [
        f"CALL_ID: {record.call_id}",
        f"RECORD_ID: {record.record_id or ''}",
        f"START: {started}",
        f"DIRECTION: {record.direction}",
        f"DURATION_SEC: {record.duration_sec}",
        f"LANGUAGE: {language}",
        "---",
    ]
    return "\n".join(header) + "\n" + text + "\n"
