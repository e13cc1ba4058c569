"""Reads of the calls app that the admin and the API share.

Transcript search (CALL-21) runs on PostgreSQL's full text: the ``russian``
configuration, ``websearch_to_tsquery`` (words in any form, "phrases",
``-word``, ``or``), ranked by ``ts_rank_cd``, with a ``ts_headline`` snippet.
SQLite, used for development and tests, has no such search: there every word
of the query must occur as written (``icontains``; SQLite folds the case of
Latin letters only), the newest calls come first and hits carry no rank.

Snippets are HTML in which only ``<mark>`` is markup: the text is escaped
before it is highlighted, so a transcript holding ``<script>`` shows it as text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.contrib.postgres.search import SearchQueryField, SearchVectorField
from django.db import connection
from django.db.models import BooleanField, Count, F, FloatField, Func, Max, Min, Q, QuerySet, Sum, TextField, Value
from django.db.models.functions import Greatest, Replace
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from calls.models import (
    CallExport,
    CallRecord,
    CallRecordStatus,
    CallSummary,
    Transcript,
    TranscriptionJob,
    TranscriptionJobStatus,
)
from integrations.models import IntegrationLog

SEARCH_MAX_LIMIT = 100
SEARCH_MAX_OFFSET = 10_000
SEARCH_MAX_QUERY_LENGTH = 500
SNIPPET_WORDS = 30  # CALL-21: one fragment of up to 30 words
# The SQLite snippet shows the first match with about a third of the words before it.
_WORDS_BEFORE = SNIPPET_WORDS // 3
_HEADLINE_OPTIONS = f"StartSel=<mark>, StopSel=</mark>, MaxFragments=1, MaxWords={SNIPPET_WORDS}, MinWords=15"
# What a hit needs of its record: the admin's result row and the API item, never the Bitrix24 payload.
_HIT_FIELDS = (
    "call_record__id",
    "call_record__call_id",
    "call_record__call_started_at",
    "call_record__direction",
    "call_record__duration_sec",
    "call_record__language",
)


# Run report reads (EXP-08) ----------------------------------------------------
# The facts of one run's report, read here so that calls/reports.py only computes and renders.

REPORT_GAPS_LIMIT = 500  # a bad run lists its first 500 gaps and counts the rest, not a 50 MB report
QA_SAMPLE_SIZE = 50
_GAP_FIELDS = ("call_id", "record_id", "status", "error_code", "error_message", "attempts")


@dataclass(frozen=True)
class RunRecordTotals:
    records: int
    with_recording: int
    completed: int
    error: int
    missing_audio: int
    skipped: int
    duration_sec: int
    cost_usd: Decimal


@dataclass(frozen=True)
class StageSpan:
    """When a stage of the run did its work: first start and last finish, both None when it did nothing."""

    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class RunExecution:
    download: StageSpan
    transcribe: StageSpan
    summary: StageSpan
    download_retries: int
    stt_retries: int
    dead_letters: int
    b24_throttled: int
    stt_busy_seconds: float
    stt_audio_seconds: float
    billable_minutes: int


def run_record_totals(run: CallExport) -> RunRecordTotals:
    has_recording = Q(record_id__isnull=False) | Q(recording_url__isnull=False) & ~Q(recording_url="")
    counts = run.records.aggregate(
        records=Count("id"),
        with_recording=Count("id", filter=has_recording),
        completed=Count("id", filter=Q(status=CallRecordStatus.COMPLETED)),
        error=Count("id", filter=Q(status=CallRecordStatus.ERROR)),
        missing_audio=Count("id", filter=Q(status=CallRecordStatus.MISSING_AUDIO)),
        skipped=Count("id", filter=Q(status=CallRecordStatus.SKIPPED)),
        duration_sec=Sum("duration_sec"),
        cost=Sum("transcription_cost"),
    )
    return RunRecordTotals(
        records=counts["records"],
        with_recording=counts["with_recording"],
        completed=counts["completed"],
        error=counts["error"],
        missing_audio=counts["missing_audio"],
        skipped=counts["skipped"],
        duration_sec=counts["duration_sec"] or 0,
        cost_usd=Decimal(counts["cost"] or 0),
    )


def run_skipped_by_reason(run: CallExport) -> dict[str, int]:
    rows = run.records.filter(status=CallRecordStatus.SKIPPED).values_list("error_code").annotate(n=Count("id"))
    return {code or "unknown": count for code, count in rows.order_by("error_code")}


def run_gaps(run: CallExport) -> QuerySet[CallRecord]:
    """Every record of the run that is not ``completed``, in a stable order, as dicts of :data:`_GAP_FIELDS`."""
    return (
        run.records.exclude(status=CallRecordStatus.COMPLETED)
        .order_by("call_id", "record_id", "id")
        .values(*_GAP_FIELDS)
    )


def run_completed_records(run: CallExport) -> QuerySet[CallRecord]:
    """The completed records in the stable order the QA sample draws from."""
    return run.records.filter(status=CallRecordStatus.COMPLETED).order_by("call_id", "record_id", "id")


def _span(rows: QuerySet, start: str, finish: str) -> StageSpan:
    bounds = rows.aggregate(started=Min(start), finished=Max(finish))
    return StageSpan(bounds["started"], bounds["finished"])


def run_execution(run: CallExport) -> RunExecution:
    jobs = TranscriptionJob.objects.filter(call_record__run=run)
    job_totals = jobs.aggregate(
        retries=Sum(Greatest(F("attempts") - 1, Value(0))),
        dead=Count("id", filter=Q(status=TranscriptionJobStatus.DEAD_LETTER)),
        busy=Sum("duration_seconds", filter=Q(status=TranscriptionJobStatus.SUCCEEDED)),
        audio=Sum("audio_seconds", filter=Q(status=TranscriptionJobStatus.SUCCEEDED)),
        minutes=Sum("billable_minutes", filter=Q(status=TranscriptionJobStatus.SUCCEEDED)),
    )
    downloads = run.records.filter(download_attempts__gt=0)
    return RunExecution(
        # A record keeps only its last attempt's time; the span ends there and starts at the first listing.
        download=StageSpan(
            downloads.aggregate(first=Min("created_at"))["first"],
            downloads.aggregate(last=Max("last_attempt_at"))["last"],
        ),
        transcribe=_span(jobs.filter(started_at__isnull=False), "started_at", "finished_at"),
        summary=_span(CallSummary.objects.filter(call_record__run=run), "created_at", "created_at"),
        download_retries=downloads.aggregate(n=Sum(Greatest(F("download_attempts") - 1, Value(0))))["n"] or 0,
        stt_retries=job_totals["retries"] or 0,
        dead_letters=job_totals["dead"],
        b24_throttled=run_b24_log(run).filter(status_code=429).count(),
        stt_busy_seconds=job_totals["busy"] or 0.0,
        stt_audio_seconds=job_totals["audio"] or 0.0,
        billable_minutes=job_totals["minutes"] or 0,
    )


def run_b24_log(run: CallExport) -> QuerySet[IntegrationLog]:
    """The run's outbound Bitrix24 calls (listing and downloads), oldest first."""
    return IntegrationLog.objects.filter(
        correlation_id=str(run.run_id), external_system=IntegrationLog.System.BITRIX24
    ).order_by("ts", "id")


def run_jobs(run: CallExport) -> QuerySet[TranscriptionJob]:
    return TranscriptionJob.objects.filter(call_record__run=run).order_by("created_at", "id")


def run_summaries(run: CallExport) -> QuerySet[CallSummary]:
    return CallSummary.objects.filter(call_record__run=run).select_related("call_record").order_by("created_at", "id")


# Transcript search (CALL-21) -------------------------------------------------


@dataclass(frozen=True)
class TranscriptHit:
    """One matching transcript: its record (the fields of :data:`_HIT_FIELDS`), rank and snippet."""

    record: CallRecord
    rank: float | None  # ts_rank_cd on PostgreSQL; None where the database cannot rank (SQLite)
    snippet: SafeString


@dataclass(frozen=True)
class TranscriptSearchPage:
    hits: list[TranscriptHit]
    limit: int
    offset: int
    has_next: bool
    ranked: bool  # best first; otherwise newest call first


class _RussianVector(Func):
    # Spelled exactly as the GIN index of migration calls.0004, so that the planner uses the index;
    # Django's SearchVector would wrap the column in COALESCE and miss it.
    template = "to_tsvector('russian', %(expressions)s)"
    output_field = SearchVectorField()


class _WebSearchQuery(Func):
    template = "websearch_to_tsquery('russian', %(expressions)s)"
    output_field = SearchQueryField()


class _Matches(Func):
    arg_joiner = " @@ "
    template = "(%(expressions)s)"
    output_field = BooleanField()


class _RankCD(Func):
    function = "ts_rank_cd"
    output_field = FloatField()


class _Headline(Func):
    template = f"ts_headline('russian', %(expressions)s, '{_HEADLINE_OPTIONS}')"
    output_field = TextField()


def _escaped_text() -> Replace:
    """``text_full`` escaped for HTML element content, in SQL, so that ts_headline's ``<mark>`` is the only markup.

    Cutting a fragment can only drop characters of an entity, never make a ``<``.
    """
    text = F("text_full")
    for raw, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        text = Replace(text, Value(raw), Value(entity))
    return text


def _full_text() -> bool:
    return connection.vendor == "postgresql"


def _words(query: str) -> list[str]:
    """The words of a query for the SQLite fallback: quotes dropped, each word once."""
    return list(dict.fromkeys(re.findall(r'[^\s"]+', query)))


def _matching(query: str) -> QuerySet[Transcript]:
    """Transcripts whose text (not purged by retention) matches ``query``; none for a blank query."""
    transcripts = Transcript.objects.filter(purged_at__isnull=True)
    if not query.strip():
        return transcripts.none()
    if _full_text():
        return transcripts.filter(_Matches(_RussianVector("text_full"), _WebSearchQuery(Value(query))))
    words = _words(query)
    if not words:
        return transcripts.none()
    return transcripts.filter(*(Q(text_full__icontains=word) for word in words))


def transcript_record_ids(*, query: str) -> QuerySet[Transcript]:
    """``call_record_id`` of every transcript that :func:`transcript_search` finds, for ``pk__in`` filters."""
    return _matching(query).values("call_record_id")


def transcript_search(*, query: str, limit: int = 20, offset: int = 0) -> TranscriptSearchPage:
    """Transcripts matching ``query``, best first, ``limit`` of them from ``offset`` (CALL-21).

    A blank query finds nothing.  ``limit`` is 1…:data:`SEARCH_MAX_LIMIT`,
    ``offset`` 0…:data:`SEARCH_MAX_OFFSET`; callers validate them (the API
    answers 422).  ``has_next`` tells whether another page follows.
    """
    transcripts = _matching(query).select_related("call_record")
    if _full_text():
        tsquery = _WebSearchQuery(Value(query))
        ranked = transcripts.only(*_HIT_FIELDS).annotate(
            rank=_RankCD(_RussianVector("text_full"), tsquery), headline=_Headline(_escaped_text(), tsquery)
        )
        ordered = ranked.order_by("-rank", F("call_record__call_started_at").desc(nulls_last=True), "-pk")
    else:
        ordered = transcripts.only("text_full", *_HIT_FIELDS).order_by(
            F("call_record__call_started_at").desc(nulls_last=True), "-pk"
        )
    rows = list(ordered[offset : offset + limit + 1])
    hits = [_hit(transcript, query) for transcript in rows[:limit]]
    return TranscriptSearchPage(hits=hits, limit=limit, offset=offset, has_next=len(rows) > limit, ranked=_full_text())


def _hit(transcript: Transcript, query: str) -> TranscriptHit:
    if hasattr(transcript, "headline"):
        # Safe: the text was escaped in SQL before ts_headline added <mark> (see _escaped_text).
        return TranscriptHit(transcript.call_record, transcript.rank, mark_safe(transcript.headline))  # noqa: S308
    return TranscriptHit(transcript.call_record, None, plain_snippet(transcript.text_full, _words(query)))


def plain_snippet(text: str, words: list[str]) -> SafeString:
    """About :data:`SNIPPET_WORDS` words from shortly before the first occurrence of any of ``words``, each marked."""
    pattern = re.compile("|".join(map(re.escape, words)), re.IGNORECASE)
    first = pattern.search(text)
    # Start at the beginning of the word that holds the match ("заКАЗ" shows "заказ", not "за" and "каз").
    start = re.search(r"\S*\Z", text[: first.start()]).start() if first else 0
    earlier = text[:start].split()
    before, after = earlier[-_WORDS_BEFORE:], text[start:].split()
    kept_after = after[: SNIPPET_WORDS - len(before)]
    shown = " ".join([*before, *kept_after])
    pieces, position = [], 0
    for match in pattern.finditer(shown):
        pieces += [escape(shown[position : match.start()]), format_html("<mark>{}</mark>", match.group())]
        position = match.end()
    pieces.append(escape(shown[position:]))
    lead = "… " if len(earlier) > len(before) else ""
    tail = " …" if len(after) > len(kept_after) else ""
    return mark_safe(lead + "".join(pieces) + tail)  # noqa: S308 - every piece is escaped above
