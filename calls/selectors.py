"""Reads of the calls app that the admin and the API share.

Transcript search (CALL-21) runs on PostgreSQL's full text: the ``russian``
configuration, ``websearch_to_tsquery`` (words in any form, "phrases",
``-word``, ``or``), the newest :data:`SEARCH_RANK_WINDOW` matching calls ranked
by ``ts_rank_cd``, with a ``ts_headline`` snippet.
SQLite, used for development and tests, has no such search: there every word
of the query must occur as written (``icontains``; SQLite folds the case of
Latin letters only), the newest calls come first and hits carry no rank.

Snippets are HTML in which only ``<mark>`` is markup: the text is escaped
before it is highlighted, so a transcript holding ``<script>`` shows it as text.

The calls overview (:func:`calls_overview`, the admin's «Обзор звонков») reads
a period in a few aggregate queries grouped by local day, never row by row.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.postgres.search import SearchQueryField, SearchVectorField
from django.db import connection
from django.db.models import (
    BooleanField,
    Count,
    Expression,
    F,
    FloatField,
    Func,
    Max,
    Min,
    Q,
    QuerySet,
    Sum,
    TextField,
    Value,
)
from django.db.models.functions import Greatest, Replace, TruncDate
from django.utils import timezone
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
    record_code_label,
)
from integrations.models import IntegrationLog

REGISTRY_CHUNK_ROWS = 2000
# The CallRecord fields a registry row is built from, in the order calls.registry.registry_row unpacks them.
REGISTRY_SOURCE_FIELDS = (
    "run_id",
    "call_id",
    "record_id",
    "employee_id",
    "call_started_at",
    "direction",
    "from_number",
    "to_number",
    "duration_sec",
    "recording_url",
    "transcript_path",
    "summary_path",
    "text_preview",
    "transcription_cost",
    "currency_code",
    "language",
    "status",
    "error_code",
    "attempts",
    "checksum",
)


def registry_records(
    *,
    period_from: datetime | None = None,
    period_to: datetime | None = None,
    employee_id: str | None = None,
    has_text: bool | None = None,
) -> QuerySet[CallRecord]:
    """Records of the call registry (EXP-04/05): started in the inclusive period, oldest first, then by id.

    Records with no start time are left out; ``has_text`` is whether a
    transcript key is set.
    """
    records = CallRecord.objects.filter(call_started_at__isnull=False)
    if period_from is not None:
        records = records.filter(call_started_at__gte=period_from)
    if period_to is not None:
        records = records.filter(call_started_at__lte=period_to)
    if employee_id is not None:
        records = records.filter(employee_id=employee_id)
    if has_text is True:
        records = records.exclude(transcript_path__isnull=True).exclude(transcript_path="")
    elif has_text is False:
        records = records.filter(Q(transcript_path__isnull=True) | Q(transcript_path=""))
    return records.order_by("call_started_at", "id")


def registry_values(**filters) -> Iterator[tuple]:
    """The registry's source values (:data:`REGISTRY_SOURCE_FIELDS`), read in chunks with a server-side cursor."""
    return registry_records(**filters).values_list(*REGISTRY_SOURCE_FIELDS).iterator(chunk_size=REGISTRY_CHUNK_ROWS)


SEARCH_MAX_LIMIT = 100
SEARCH_MAX_OFFSET = 10_000
SEARCH_MAX_QUERY_LENGTH = 500
# Ranking reads every candidate's vector, so only the newest matching calls are ranked: as many as
# the deepest page reaches, so that every page of one query comes from the same ranked set.  A
# word most calls contain then costs the walk of this many rows of an index, not every match.
SEARCH_RANK_WINDOW = SEARCH_MAX_OFFSET + SEARCH_MAX_LIMIT
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


def run_gaps(run: CallExport) -> QuerySet[CallRecord, dict[str, Any]]:
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


class _StoredVector(Expression):
    """``search_vector``: the transcript's ``to_tsvector('russian', text_full)``, stored (migration calls.0009).

    A generated column the model does not declare (it exists on PostgreSQL
    only), so it is named here against whatever alias the query gives the
    transcripts' table; its GIN index answers the match and ranking reads it
    instead of parsing every matching text again.
    """

    output_field = SearchVectorField()

    def as_sql(self, compiler, connection):
        table = compiler.quote_name_unless_alias(compiler.query.base_table)
        return f"{table}.{connection.ops.quote_name('search_vector')}", []


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


def _escaped_text() -> F | Replace:
    """``text_full`` escaped for HTML element content, in SQL, so that ts_headline's ``<mark>`` is the only markup.

    Cutting a fragment can only drop characters of an entity, never make a ``<``.
    """
    text: F | Replace = F("text_full")
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
        return transcripts.filter(_Matches(_StoredVector(), _WebSearchQuery(Value(query))))
    words = _words(query)
    if not words:
        return transcripts.none()
    return transcripts.filter(*(Q(text_full__icontains=word) for word in words))


def transcript_record_ids(*, query: str) -> QuerySet[Transcript, Mapping[str, object]]:
    """``call_record_id`` of every transcript that :func:`transcript_search` finds, for ``pk__in`` filters."""
    return _matching(query).values("call_record_id")


# What one word of the admin's search box is compared with; each lookup has an index (see record_search).
RECORD_SEARCH_LOOKUPS = ("call_id", "record_id", "employee_id", "from_number__contains", "to_number__contains")


def record_search(records: QuerySet[CallRecord], *, query: str) -> QuerySet[CallRecord]:
    """The records among ``records`` that the admin's search box finds for ``query``.

    Every word must be a call id, a recording id or an employee, exactly, or
    part of a number; or else the whole query matches a transcript as on the
    search page (:func:`transcript_record_ids`).  Each comparison is a query
    of its own that an index answers — the unique key on ``call_id``, the
    indexes on ``record_id`` and ``employee_id``, trigram indexes on the
    numbers (PostgreSQL; calls.0007), the transcripts' full-text index — and
    they are united with ``UNION``: an ``OR`` of them in one ``WHERE`` makes
    PostgreSQL read every row, since the transcript branch is a subquery.
    """
    words = query.split()
    if not words:
        return records
    by_fields = CallRecord.objects.order_by()
    for word in words:
        first, *others = (
            CallRecord.objects.filter(**{lookup: word}).order_by().values("pk") for lookup in RECORD_SEARCH_LOOKUPS
        )
        by_fields = by_fields.filter(pk__in=first.union(*others))
    return records.filter(pk__in=by_fields.values("pk").union(transcript_record_ids(query=query)))


# Newest call first; the transcript's copy of the call's start, so the index transcript_newest_calls serves it.
_NEWEST = (F("call_started_at").desc(nulls_last=True), "-pk")


def transcript_search(*, query: str, limit: int = 20, offset: int = 0) -> TranscriptSearchPage:
    """Transcripts matching ``query``, best first among the newest matches, ``limit`` of them from ``offset`` (CALL-21).

    A blank query finds nothing.  ``limit`` is 1…:data:`SEARCH_MAX_LIMIT`,
    ``offset`` 0…:data:`SEARCH_MAX_OFFSET`; callers validate them (the API
    answers 422).  ``has_next`` tells whether another page follows.
    """
    if _full_text():
        rows = _ranked_page(query, limit=limit, offset=offset)
    else:
        ordered = _matching(query).select_related("call_record").only("text_full", *_HIT_FIELDS).order_by(*_NEWEST)
        rows = list(ordered[offset : offset + limit + 1])
    hits = [_hit(transcript, query) for transcript in rows[:limit]]
    return TranscriptSearchPage(hits=hits, limit=limit, offset=offset, has_next=len(rows) > limit, ranked=_full_text())


def _ranked_page(query: str, *, limit: int, offset: int) -> list[Transcript]:
    """Up to ``limit + 1`` hits from ``offset``, best first among the newest matches, in two queries.

    The first takes the :data:`SEARCH_RANK_WINDOW` newest matching calls
    (PostgreSQL walks ``transcript_newest_calls`` and stops there when a
    word is common, or reads a rare word's few matches from the GIN index),
    orders them by rank, then call start, then id, and keeps only their
    keys.  The second reads the page's rows, their rank and snippet.
    """
    tsquery = _WebSearchQuery(Value(query))
    newest = _matching(query).order_by(*_NEWEST).values("pk")[:SEARCH_RANK_WINDOW]
    keys = list(
        Transcript.objects.filter(pk__in=newest)
        .annotate(rank=_RankCD(_StoredVector(), tsquery))
        .order_by("-rank", *_NEWEST)
        .values_list("pk", flat=True)[offset : offset + limit + 1]
    )
    found = (
        Transcript.objects.filter(pk__in=keys)
        .select_related("call_record")
        .only(*_HIT_FIELDS)
        .annotate(rank=_RankCD(_StoredVector(), tsquery), headline=_Headline(_escaped_text(), tsquery))
        .in_bulk()
    )
    return [found[key] for key in keys if key in found]


def _hit(transcript: Transcript, query: str) -> TranscriptHit:
    if hasattr(transcript, "headline"):
        # Safe: the text was escaped in SQL before ts_headline added <mark> (see _escaped_text).
        rank = transcript.rank  # type: ignore[attr-defined]  # annotated by the full-text query, as headline is
        return TranscriptHit(transcript.call_record, rank, mark_safe(transcript.headline))  # noqa: S308
    return TranscriptHit(transcript.call_record, None, plain_snippet(transcript.text_full, _words(query)))


def plain_snippet(text: str, words: list[str]) -> SafeString:
    """About :data:`SNIPPET_WORDS` words from shortly before the first occurrence of any of ``words``, each marked."""
    pattern = re.compile("|".join(map(re.escape, words)), re.IGNORECASE)
    first = pattern.search(text)
    # Start at the beginning of the word that holds the match ("заКАЗ" shows "заказ", not "за" and "каз").
    start = 0
    if first:
        word = re.search(r"\S*\Z", text[: first.start()])  # matches any string, at its end if nowhere earlier
        start = word.start() if word else first.start()
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


# Calls overview (the admin dashboard) ------------------------------------------------

# Beyond this many days a chart shows weeks: 366 daily bars would be 3 px wide on a 1400 px screen.
OVERVIEW_MAX_DAILY_BARS = 92
OVERVIEW_TOP_EMPLOYEES = 10


@dataclass(frozen=True)
class OverviewBucket:
    """One bar of the overview's charts: a local day, or a week of them (``first_day``…``last_day``)."""

    first_day: date
    last_day: date
    calls: int = 0
    with_recording: int = 0  # Bitrix24 has a recording (URL or disk file)
    with_audio: int = 0  # ...and it was not gone for good (``missing_audio``): coverage's denominator
    completed: int = 0
    call_seconds: int = 0
    billable_minutes: int = 0
    cost: Decimal = Decimal(0)

    @property
    def coverage_percent(self) -> float | None:
        """EXP-08: ``completed`` ÷ records with available audio; None when there was no audio to transcribe."""
        return 100.0 * self.completed / self.with_audio if self.with_audio else None

    @property
    def call_minutes(self) -> float:
        return self.call_seconds / 60


@dataclass(frozen=True)
class OverviewCode:
    status: str
    code: str
    label: str
    count: int


@dataclass(frozen=True)
class OverviewEmployee:
    employee_id: str | None  # None: calls Bitrix24 gave no employee
    calls: int
    completed: int
    call_seconds: int
    cost: Decimal


@dataclass(frozen=True)
class CallsOverview:
    """What the "Обзор звонков" page shows for ``date_from``…``date_to``, local days in ``time_zone``.

    ``days`` has one bucket per day of the period, days without calls
    included.  Costs are USD, the sum of the records' unrounded
    ``transcription_cost`` (as the run totals, STT-10); billable minutes are
    those of the succeeded jobs of completed records (as ``CallExport.transcribed_minutes``).
    """

    date_from: date
    date_to: date
    time_zone: tzinfo
    days: list[OverviewBucket]
    codes: list[OverviewCode]
    employees: list[OverviewEmployee]
    budget_usd: Decimal | None
    usd_rub_rate: Decimal
    today: date

    @property
    def totals(self) -> OverviewBucket:
        return _merged(self.days, self.date_from, self.date_to)

    @property
    def cost_usd(self) -> Decimal:
        return self.totals.cost

    @property
    def cost_rub(self) -> Decimal:
        return self.totals.cost * self.usd_rub_rate

    @property
    def period_days(self) -> int:
        return (self.date_to - self.date_from).days + 1

    @property
    def covered_days(self) -> int:
        """Days of the period that have begun: a period reaching into the future is not yet covered there."""
        return max(0, (min(self.date_to, self.today) - self.date_from).days + 1)

    @property
    def forecast_usd(self) -> Decimal | None:
        """EXP-08: the cost of the next period of the same length, at this period's cost per covered day."""
        if not self.covered_days:
            return None
        return self.cost_usd / self.covered_days * self.period_days

    @property
    def budget_used_percent(self) -> float | None:
        if not self.budget_usd:
            return None
        return float(100 * self.cost_usd / self.budget_usd)

    def buckets(self) -> list[OverviewBucket]:
        """The chart bars: the days, or Monday-to-Sunday weeks (cut to the period) past :data:`OVERVIEW_MAX_DAILY_BARS`."""
        if len(self.days) <= OVERVIEW_MAX_DAILY_BARS:
            return self.days
        weeks: dict[date, list[OverviewBucket]] = {}
        for day in self.days:
            weeks.setdefault(day.first_day - timedelta(days=day.first_day.weekday()), []).append(day)
        return [_merged(days, days[0].first_day, days[-1].last_day) for days in weeks.values()]


def _merged(days: list[OverviewBucket], first_day: date, last_day: date) -> OverviewBucket:
    return OverviewBucket(
        first_day=first_day,
        last_day=last_day,
        calls=sum(day.calls for day in days),
        with_recording=sum(day.with_recording for day in days),
        with_audio=sum(day.with_audio for day in days),
        completed=sum(day.completed for day in days),
        call_seconds=sum(day.call_seconds for day in days),
        billable_minutes=sum(day.billable_minutes for day in days),
        cost=sum((day.cost for day in days), Decimal(0)),
    )


def calls_overview(*, date_from: date, date_to: date, time_zone: tzinfo) -> CallsOverview:
    """The overview of the calls that started on local days ``date_from``…``date_to`` (inclusive) in ``time_zone``.

    Four aggregate queries over the ``call_started_at`` range (its index
    ``callrecord_started_at``), whatever the number of records; records
    without a start time are not in any day.
    """
    records = CallRecord.objects.filter(
        call_started_at__gte=datetime.combine(date_from, time.min, tzinfo=time_zone),
        call_started_at__lt=datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=time_zone),
    )
    has_recording = (Q(recording_url__isnull=False) & ~Q(recording_url="")) | Q(record_id__isnull=False)
    per_day = (
        records.annotate(day=TruncDate("call_started_at", tzinfo=time_zone))
        .values("day")
        .annotate(
            calls=Count("id"),
            with_recording=Count("id", filter=has_recording),
            with_audio=Count("id", filter=has_recording & ~Q(status=CallRecordStatus.MISSING_AUDIO)),
            completed=Count("id", filter=Q(status=CallRecordStatus.COMPLETED)),
            call_seconds=Sum("duration_sec"),
            cost=Sum("transcription_cost"),
        )
        .order_by("day")
    )
    minutes = dict(
        TranscriptionJob.objects.filter(
            call_record__in=records.filter(status=CallRecordStatus.COMPLETED), status=TranscriptionJobStatus.SUCCEEDED
        )
        .annotate(day=TruncDate("call_record__call_started_at", tzinfo=time_zone))
        .values("day")
        .annotate(minutes=Sum("billable_minutes"))
        .values_list("day", "minutes")
    )
    found = {row["day"]: row for row in per_day}
    days = []
    for offset in range((date_to - date_from).days + 1):
        day = date_from + timedelta(days=offset)
        row: Mapping[str, Any] = found.get(day, {})
        days.append(
            OverviewBucket(
                first_day=day,
                last_day=day,
                calls=row.get("calls", 0),
                with_recording=row.get("with_recording", 0),
                with_audio=row.get("with_audio", 0),
                completed=row.get("completed", 0),
                call_seconds=row.get("call_seconds") or 0,
                billable_minutes=minutes.get(day) or 0,
                cost=Decimal(row.get("cost") or 0),
            )
        )
    codes = [
        OverviewCode(status=status, code=code, label=record_code_label(code), count=count)
        for status, code, count in records.filter(error_code__isnull=False)
        .exclude(error_code="")
        .values_list("status", "error_code")
        .annotate(count=Count("id"))
        .order_by("-count", "status", "error_code")
    ]
    employees = [
        OverviewEmployee(
            employee_id=row["employee_id"],
            calls=row["calls"],
            completed=row["completed"],
            call_seconds=row["call_seconds"] or 0,
            cost=Decimal(row["cost"] or 0),
        )
        for row in records.values("employee_id")
        .annotate(
            calls=Count("id"),
            completed=Count("id", filter=Q(status=CallRecordStatus.COMPLETED)),
            call_seconds=Sum("duration_sec"),
            cost=Sum("transcription_cost"),
        )
        .order_by("-calls", "-call_seconds", "employee_id")[:OVERVIEW_TOP_EMPLOYEES]
    ]
    config = settings.APP_CONFIG
    return CallsOverview(
        date_from=date_from,
        date_to=date_to,
        time_zone=time_zone,
        days=days,
        codes=codes,
        employees=employees,
        budget_usd=config.call_export_budget_usd,
        usd_rub_rate=config.usd_rub_rate,
        today=timezone.localtime(timezone.now(), time_zone).date(),
    )
