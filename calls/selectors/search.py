"""Transcript search (CALL-21): the search page, the API's search and the records admin's search box.

A module of its own because it is the one read that differs by database,
with expressions of its own over PostgreSQL's full text; the admin and the
API share it.

Transcript search runs on PostgreSQL's full text: the ``russian``
configuration, ``websearch_to_tsquery`` (words in any form, "phrases",
``-word``, ``or``), the newest :data:`SEARCH_RANK_WINDOW` matching calls ranked
by ``ts_rank_cd``, with a ``ts_headline`` snippet.
SQLite, used for development and tests, has no such search: there every word
of the query must occur as written (``icontains``; SQLite folds the case of
Latin letters only), the newest calls come first and hits carry no rank.

Snippets are HTML in which only ``<mark>`` is markup: the text is escaped
before it is highlighted, so a transcript holding ``<script>`` shows it as text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from django.contrib.postgres.search import SearchQueryField, SearchVectorField
from django.db import connection
from django.db.models import BooleanField, Expression, F, FloatField, Func, Q, QuerySet, TextField, Value
from django.db.models.functions import Replace
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from calls.models import CallRecord, Transcript

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
