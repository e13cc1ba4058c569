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

from django.contrib.postgres.search import SearchQueryField, SearchVectorField
from django.db import connection
from django.db.models import BooleanField, F, FloatField, Func, Q, QuerySet, TextField, Value
from django.db.models.functions import Replace
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from calls.models import CallRecord, Transcript

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
