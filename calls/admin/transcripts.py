"""Transcripts in the back-office: the panel of the record page, the list filter, the search page's pieces.

Transcripts are read on the call record's pages rather than in a list of
their own: staff look for a call, and a transcript belongs to exactly one.
The search page (CALL-21) is a view of :class:`calls.admin.records.CallRecordAdmin`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language_info, gettext
from django.utils.translation import gettext_lazy as _

from calls.models import CallRecord, CallRecordStatus, CallSummary, Transcript
from calls.selectors import search as search_selectors
from integrations.stt.recording import CLIENT_LABEL, OPERATOR_LABEL
from mastermobile import formatting

SEARCH_PAGE_SIZE = 20
# Turns of a stereo dialogue start with the label the transcriber writes (integrations.stt.recording).
SPEAKER_CLASSES = {OPERATOR_LABEL: "operator", CLIENT_LABEL: "client"}
IN_PROGRESS = {
    CallRecordStatus.PENDING,
    CallRecordStatus.DOWNLOADING,
    CallRecordStatus.DOWNLOADED,
    CallRecordStatus.TRANSCRIBING,
}

Redact = Callable[[str], str]


class TranscriptFilter(admin.SimpleListFilter):
    title = _("transcript")
    parameter_name = "transcript"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, Any]]:
        return [("yes", _("with a transcript")), ("no", _("without a transcript")), ("purged", _("text purged"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[CallRecord]) -> QuerySet[CallRecord]:
        if self.value() == "yes":
            return queryset.filter(transcript__isnull=False, transcript__purged_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(transcript__isnull=True)
        if self.value() == "purged":
            return queryset.filter(transcript__purged_at__isnull=False)
        return queryset


class TranscriptSearchForm(forms.Form):
    q = forms.CharField(label=_("Words"), required=False, max_length=search_selectors.SEARCH_MAX_QUERY_LENGTH)
    offset = forms.IntegerField(required=False, min_value=0, max_value=search_selectors.SEARCH_MAX_OFFSET)


def _related(record: CallRecord, name: str) -> Any:
    try:
        return getattr(record, name)
    except ObjectDoesNotExist:
        return None


def language_name(code: str) -> str:
    """``Русский`` for ``ru`` in the active language; an unknown code as it is."""
    if not code:
        return formatting.EMPTY
    try:
        return get_language_info(code)["name_translated"]
    except KeyError:
        return code


def transcript_panel(record: CallRecord, *, redact: Redact) -> SafeString:
    """The text, or why there is none, beside the player, the transcript's facts and the summary."""
    transcript: Transcript | None = _related(record, "transcript")
    if transcript is None:
        text, facts, summary = _missing(record, redact=redact), "", ""
    else:
        if transcript.purged_at:
            text = _note(
                gettext("The text was deleted on %(date)s: transcripts are kept for a limited time.")
                % {"date": formatting.local_date(transcript.purged_at)}
            )
        else:
            text = transcript_text(transcript.text_full, redact=redact)
        facts, summary = _facts(record, transcript), _summary(_related(record, "summary"), redact=redact)
    return format_html(
        '<div class="mm-transcript"><div class="mm-transcript-main">{}</div>'
        '<aside class="mm-transcript-facts">{}{}{}</aside></div>',
        text,
        audio_player(record),
        facts,
        summary,
    )


def audio_player(record: CallRecord) -> SafeString:
    """The stored recording through the authenticated audio view (OPS-17), or why there is nothing to play."""
    if record.audio_purged_at:
        return _note(
            gettext("The audio was deleted on %(date)s: recordings are kept for a limited time.")
            % {"date": formatting.local_date(record.audio_purged_at)}
        )
    if not (record.storage_path and record.checksum):
        return _note(gettext("No audio recording is stored."))
    url = reverse("admin:calls_callrecord_audio", args=[record.pk])
    return format_html('<audio controls preload="metadata" src="{}"></audio>', url)


def transcript_text(text: str, *, redact: Redact) -> SafeString:
    """One paragraph a line; a dialogue's "Оператор:" and "Клиент:" stand out. Everything is escaped."""
    paragraphs = []
    for line in filter(None, (line.strip() for line in text.splitlines())):
        speaker, colon, said = line.partition(":")
        if colon and speaker in SPEAKER_CLASSES:
            paragraphs.append(
                format_html(
                    '<p><span class="mm-speaker mm-speaker-{}">{}:</span> {}</p>',
                    SPEAKER_CLASSES[speaker],
                    speaker,
                    redact(said.strip()),
                )
            )
        else:
            paragraphs.append(format_html("<p>{}</p>", redact(line)))
    if not paragraphs:
        return _note(gettext("The transcript is empty: no speech was recognised."))
    # tabindex: the box scrolls, so keyboard users must be able to focus it.
    return format_html('<div class="mm-transcript-text" tabindex="0">{}</div>', mark_safe("".join(paragraphs)))  # noqa: S308


def _note(text: str) -> SafeString:
    return format_html('<p class="mm-transcript-note">{}</p>', text)


def _missing(record: CallRecord, *, redact: Redact) -> SafeString:
    if record.status in IN_PROGRESS:
        note = _note(gettext("No transcript yet: the call is still being processed."))
    else:
        note = _note(gettext("No transcript: this call was not transcribed. “Processing” below says why."))
    if not record.text_preview:
        return note
    return format_html(
        '{}<p class="mm-muted">{}</p><div class="mm-transcript-text">{}</div>',
        note,
        gettext("Only the beginning of the text was kept:"),
        redact(record.text_preview),
    )


def _facts(record: CallRecord, transcript: Transcript) -> SafeString:
    metadata = transcript.metadata or {}
    rows = [
        (gettext("language"), language_name(record.language or metadata.get("language") or "")),
        (gettext("engine"), metadata.get("engine") or formatting.EMPTY),
        (gettext("model"), metadata.get("model") or formatting.EMPTY),
        (gettext("billable minutes"), metadata.get("billable_minutes", formatting.EMPTY)),
        (gettext("cost"), formatting.money(record.transcription_cost, record.currency_code)),
        (gettext("audio parts sent"), metadata.get("chunk_count", formatting.EMPTY)),
        (gettext("transcribed at"), formatting.local_datetime(transcript.created_at)),
    ]
    return format_html(
        '<table class="mm-facts">{}</table>', format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows)
    )


def _summary(summary: CallSummary | None, *, redact: Redact) -> str:
    if summary is None or not summary.bullets:
        return ""
    return format_html(
        '<h3 class="mm-transcript-heading">{}</h3><ul class="mm-plain-list">{}</ul>',
        gettext("Summary"),
        format_html_join("", "<li>{}</li>", ((redact(str(bullet)),) for bullet in summary.bullets)),
    )


def search_results(page: search_selectors.TranscriptSearchPage, *, query: str, redact: Redact) -> dict[str, Any]:
    """The rows of one page of hits and the links to the pages around it."""
    rows = [
        {
            "url": reverse("admin:calls_callrecord_change", args=[hit.record.pk]),
            "call_id": hit.record.call_id,
            "started": formatting.local_datetime(hit.record.call_started_at),
            "direction": hit.record.get_direction_display(),
            "duration": formatting.duration_hms(hit.record.duration_sec),
            # The redactor only replaces runs of digits and secrets, so the escaped snippet stays safe.
            "snippet": mark_safe(redact(hit.snippet)),  # noqa: S308
        }
        for hit in page.hits
    ]
    previous_offset = max(page.offset - page.limit, 0)
    return {
        "rows": rows,
        "ranked": page.ranked,
        "window": search_selectors.SEARCH_RANK_WINDOW,
        "first": page.offset + 1,
        "last": page.offset + len(rows),
        "previous_url": "?" + urlencode({"q": query, "offset": previous_offset}) if page.offset else None,
        "next_url": "?" + urlencode({"q": query, "offset": page.offset + page.limit}) if page.has_next else None,
    }
