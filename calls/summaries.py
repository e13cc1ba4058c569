"""Per-call summaries (STT-11, STT-12): bullets from the transcript, a Markdown file, a ``CallSummary`` row.

Generated only when ``CALL_SUMMARY_ENABLED`` is on and the run's
``generate_summary`` option is not false — the run can only narrow the
global switch.  ``CALL_SUMMARY_ENGINE`` picks how: ``extractive`` (the first
sentences, no request) or ``llm`` (a chat model, :mod:`integrations.llm`).
An LLM summary that cannot be had — no key, or a failed request — becomes the
extractive one, with a warning (``summary_failed`` for a failed request); the
engine stored says which was written.  Any other failure is logged as
``summary_failed``, writes no summary and never fails the record.
"""

from __future__ import annotations

import logging
import re
from itertools import pairwise

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from calls.models import CallRecord, CallRecordStatus, CallSummary, Transcript
from calls.storage import save_text, summary_key
from integrations.llm import ChatDisabled, ChatError, summarizer_from_config

logger = logging.getLogger(__name__)

MIN_BULLETS = 3
MAX_BULLETS = 5
BULLET_LIMIT = 256
EXTRACTIVE = "extractive"
LLM = "llm"
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
        # Three chunks whose sizes differ by one word at most, the first ones taking the extra words:
        # ceil(n / 3)-word steps would give 4 words two chunks and 7 words a one-word third.
        size, extra = divmod(len(words), MIN_BULLETS)
        bounds = [index * size + min(index, extra) for index in range(MIN_BULLETS + 1)]
        bullets = [" ".join(words[start:end]) for start, end in pairwise(bounds)]
    distinct = list(dict.fromkeys(bullet for bullet in bullets if bullet))
    return [_cut(bullet) for bullet in distinct]


def _cut(bullet: str) -> str:
    return bullet if len(bullet) <= BULLET_LIMIT else bullet[: BULLET_LIMIT - 1] + "…"


def summary_markdown(bullets: list[str]) -> str:
    return "".join(f"- {bullet}\n" for bullet in bullets)


def summaries_enabled(options: dict) -> bool:
    return settings.APP_CONFIG.call_summary_enabled and options.get("generate_summary", True) is not False


def llm_bullets(lines: tuple[str, ...] | list[str]) -> list[str]:
    """The STT-11 rules on a model's lines: duplicates dropped in order, each cut at 256 characters, at most 5."""
    return [_cut(line) for line in dict.fromkeys(lines)][:MAX_BULLETS]


def engine_label(model: str) -> str:
    """``llm:<model>`` for ``CallSummary.engine``; just ``llm`` when a long model name would not fit."""
    label = f"{LLM}:{model}"
    limit = CallSummary._meta.get_field("engine").max_length
    return label if limit is None or len(label) <= limit else LLM


def summary_for(record_id: int) -> CallSummary | None:
    """The record's summary, written from its Transcript row (so both storage backends work); None when off or empty."""
    record = CallRecord.objects.select_related("run").get(pk=record_id)
    if not summaries_enabled(record.run.options) or record.status != CallRecordStatus.COMPLETED:
        return None
    try:
        text = Transcript.objects.filter(call_record=record).values_list("text_full", flat=True).first() or ""
        if not text.split():
            return None
        bullets, engine = _bullets(record, text)
        created = timezone.now()
        key = summary_key(call_id=record.call_id, created_at=created)
        save_text(key, summary_markdown(bullets))
        with transaction.atomic():
            summary, _ = CallSummary.objects.update_or_create(
                call_record=record, defaults={"bullets": bullets, "storage_path": key, "engine": engine}
            )
            CallRecord.objects.filter(pk=record.pk).update(summary_path=key, updated_at=created)
    except Exception:  # STT-12: a summary never fails its record
        logger.exception(
            "stt.summary",
            extra={"event": "stt.summary", "error_code": "summary_failed", "call_id": record.call_id},
        )
        return None
    return summary


def _bullets(record: CallRecord, text: str) -> tuple[list[str], str]:
    """The bullets of a non-empty transcript and the engine that wrote them."""
    config = settings.APP_CONFIG
    if config.call_summary_engine != LLM:
        return extractive_bullets(text), EXTRACTIVE
    run = str(record.run_id)
    fields = {
        "event": "stt.summary",
        "stage": "fallback",
        "engine": EXTRACTIVE,
        "call_id": record.call_id,
        "correlation_id": run,
    }
    try:
        with summarizer_from_config(config, call_id=record.call_id, correlation_id=run) as summarizer:
            summary = summarizer.summarize(text, language=record.language)
    except ChatDisabled as error:
        # Said on every summary rather than once per process: each worker's log then shows why.
        logger.warning("stt.summary", extra={**fields, "error_code": error.error_code, "error_message": str(error)})
        return extractive_bullets(text), EXTRACTIVE
    except ChatError as error:
        # The record still gets a summary; the log says the LLM one failed and why.
        logger.warning(
            "stt.summary",
            extra={
                **fields,
                "error_code": "summary_failed",
                "cause": error.error_code,
                "status_code": error.status_code,
                "error_message": str(error),
            },
        )
        return extractive_bullets(text), EXTRACTIVE
    return llm_bullets(summary.bullets), engine_label(summary.model)
