"""What a call's recording becomes: its transcript (CALL-13) and its summary (CALL-14)."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from calls.models.records import CallRecord


class Transcript(models.Model):
    """The recognised text of one recording (CALL-13); the database copy is the source of truth.

    On PostgreSQL the table also has ``search_vector``, a generated column
    ``to_tsvector('russian', text_full)`` with a GIN index (migrations
    ``calls.0004`` and ``calls.0009``), not declared here, so SQLite databases
    migrate without it; :mod:`calls.selectors.search` names it.
    """

    call_record = models.OneToOneField(
        CallRecord, verbose_name=_("call record"), on_delete=models.CASCADE, related_name="transcript"
    )
    text_full = models.TextField(_("text"))
    text_normalized = models.TextField(_("normalised text"), null=True, blank=True)
    metadata = models.JSONField(
        _("metadata"), default=dict, blank=True, help_text=_("Engine, model, language, chunks, seconds, request ids.")
    )
    purged_at = models.DateTimeField(
        _("text purged at"), null=True, blank=True, help_text=_("Set when retention cleared the text (STT-32).")
    )
    # The call's start, copied from the record: the search walks the newest matching calls on this
    # table's own index and stops after its ranking window (calls.selectors.search.SEARCH_RANK_WINDOW).
    call_started_at = models.DateTimeField(_("call started at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("transcript")
        verbose_name_plural = _("transcripts")
        # PostgreSQL also has transcript_newest_calls (call_started_at DESC NULLS LAST, id DESC),
        # created by migration calls.0010: SQLite cannot index NULLS LAST, and searches by icontains.

    def __str__(self) -> str:
        return gettext("Transcript of call %(call)s") % {"call": self.call_record.call_id}

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.call_started_at is None and self.call_record_id is not None:
            self.call_started_at = self.call_record.call_started_at
        super().save(*args, **kwargs)


class CallSummary(models.Model):
    """Bullets of one call (CALL-14); regenerating replaces the row, so the latest version wins."""

    call_record = models.OneToOneField(
        CallRecord, verbose_name=_("call record"), on_delete=models.CASCADE, related_name="summary"
    )
    bullets = models.JSONField(_("bullets"), default=list)
    storage_path = models.CharField(_("summary key"), max_length=500)
    engine = models.CharField(_("engine"), max_length=32, default="extractive")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("call summary")
        verbose_name_plural = _("call summaries")

    def __str__(self) -> str:
        return gettext("Summary of call %(call)s") % {"call": self.call_record.call_id}
