"""Per-call summaries (STT-11, STT-12): bullets from the transcript, a Markdown file, a ``CallSummary`` row.

Generated only when ``CALL_SUMMARY_ENABLED`` is on and the run's
``generate_summary`` option is not false — the run can only narrow the
global switch.  A failure is logged as ``summary_failed`` and never fails the
record.
"""

from __future__ import annotations

import logging
import math
import re

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from calls.models import CallRecord, CallRecordStatus, CallSummary, Transcript
from calls.storage import save_text, summary_key

logger = logging.getLogger(__name__)

MIN_BULLETS = 3
MAX_BULLETS = 5
BULLET_LIMIT = 256
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_SPACES = re.compile(r"\s+")


def extractive_bullets(text: str) -> list[str]:
    """STT-11: the first 3–5 sentences; with fewer than 3, the words in 3 equal parts; duplicates dropped."""
    sentences = [
        _SPACES.sub(" ", sentence).strip()
        for line in text.splitlines()
        for sentence in _SENTENCE_END.split(line)
        if sentence.strip()
    ]
    if len(sentences) >= MIN_BULLETS:
        bullets = sentences[:MAX_BULLETS]
    else:
        words = text.split()
        if not words:
            return []
        size = math.ceil(len(words) / MIN_BULLETS)
        bullets = [" ".join(words[start : start + size]) for start in range(0, len(words), size)]
    distinct = list(dict.fromkeys(bullet for bullet in bullets if bullet))
    return [_cut(bullet) for bullet in distinct]


def _cut(bullet: str) -> str:
    return bullet if len(bullet) <= BULLET_LIMIT else bullet[: BULLET_LIMIT - 1] + "…"


def summary_markdown(bullets: list[str]) -> str:
    return "".join(f"- {bullet}\n" for bullet in bullets)


def summaries_enabled(options: dict) -> bool:
    return settings.APP_CONFIG.call_summary_enabled and options.get("generate_summary", True) is not False


def summary_for(record_id: int) -> CallSummary | None:
    """The record's summary, written from its Transcript row (so both storage backends work); None when off or empty."""
    record = CallRecord.objects.select_related("run").get(pk=record_id)
    if not summaries_enabled(record.run.options) or record.status != CallRecordStatus.COMPLETED:
        return None
    try:
        text = Transcript.objects.filter(call_record=record).values_list("text_full", flat=True).first() or ""
        bullets = extractive_bullets(text)
        if not bullets:
            return None
        created = timezone.now()
        key = summary_key(call_id=record.call_id, created_at=created)
        save_text(key, summary_markdown(bullets))
        with transaction.atomic():
            summary, _ = CallSummary.objects.update_or_create(
                call_record=record, defaults={"bullets": bullets, "storage_path": key, "engine": "extractive"}
            )
            CallRecord.objects.filter(pk=record.pk).update(summary_path=key, updated_at=created)
    except Exception:  # STT-12: a summary never fails its record
        logger.exception(
            "stt.summary",
            extra={"event": "stt.summary", "error_code": "summary_failed", "call_id": record.call_id},
        )
        return None
    return summary
