"""Transcription jobs and the dead-letter queue (STT-07, CALL-15): what failed, why, and *Requeue*."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from calls import dead_letters
from calls.models import TRANSCRIPTION_CODES, TranscriptionJob, TranscriptionJobStatus, record_code_label
from calls.tasks import dispatch_transcriptions
from mastermobile import formatting
from mastermobile.admin import ViewOnlyPagesMixin, fieldset_fields
from mastermobile.observability.context import current_request_id
from mastermobile.observability.logging import Redactor

J = TranscriptionJobStatus
JOB_STATUS_TONES: dict[str, str] = {
    J.QUEUED: "info",
    J.RUNNING: "info",
    J.RETRY_WAIT: "warn",
    J.SUCCEEDED: "ok",
    J.FAILED: "error",
    J.DEAD_LETTER: "error",
    J.SKIPPED: "muted",
}


class LastErrorFilter(admin.SimpleListFilter):
    """The codes of the transcription stage, by meaning; a fixed list, no scan of the table."""

    title = _("reason")
    parameter_name = "last_error_code"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(code, record_code_label(code)) for code in TRANSCRIPTION_CODES]

    def queryset(self, request: HttpRequest, queryset: QuerySet[TranscriptionJob]) -> QuerySet[TranscriptionJob]:
        return queryset.filter(last_error_code=self.value()) if self.value() else queryset


@admin.register(TranscriptionJob)
class TranscriptionJobAdmin(ViewOnlyPagesMixin, admin.ModelAdmin):
    add_refused_message = _("Transcription jobs are created when a recording is downloaded.")
    list_display = ("call_link", "status_display", "engine", "attempts", "last_error", "failed_at_display", "next_at")
    list_filter = ("status", LastErrorFilter, "engine", ("failed_at", admin.DateFieldListFilter))
    search_fields = ("=call_id",)
    list_select_related = ("call_record",)
    ordering = ("-updated_at",)
    list_per_page = 50
    actions = ("requeue",)
    fieldsets = [
        (_("Recording"), {"fields": ["call_link", "engine", "model", "language", "recording_url_display"]}),
        (
            _("State"),
            {
                "fields": [
                    "status_display",
                    "attempts",
                    "next_at",
                    "started_at_display",
                    "finished_at_display",
                    "duration_seconds",
                ]
            },
        ),
        (
            _("Last failure"),
            {"fields": ["last_error", "last_status_code", "last_error_message", "dlq_reason", "failed_at_display"]},
        ),
        (_("Result"), {"fields": ["billable_minutes", "cost_display"]}),
        (_("Service data"), {"fields": ["history_display", "dedup_key_display", "id"]}),
    ]
    readonly_fields = fieldset_fields(fieldsets)

    @admin.display(description=_("call"), ordering="call_id")
    def call_link(self, job: TranscriptionJob):
        if job.call_record_id is None:
            return format_html('{} <span class="mm-muted">({})</span>', job.call_id, _("record deleted"))
        url = reverse("admin:calls_callrecord_change", args=[job.call_record_id])
        return format_html('<a href="{}">{}</a>', url, job.call_id)

    @admin.display(description=_("status"), ordering="status")
    def status_display(self, job: TranscriptionJob):
        return formatting.badge(job.get_status_display(), JOB_STATUS_TONES.get(job.status, "info"))

    @admin.display(description=_("last error"), ordering="last_error_code")
    def last_error(self, job: TranscriptionJob):
        if not job.last_error_code:
            return "—"
        return format_html(
            '<span title="{}">{}</span><br><span class="mm-muted">{}</span>',
            job.last_error_code,
            record_code_label(job.last_error_code),
            Truncator(job.last_error_message).chars(80),
        )

    @admin.display(description=_("failed at"), ordering="failed_at")
    def failed_at_display(self, job: TranscriptionJob) -> str:
        return formatting.local_datetime(job.failed_at) or "—"

    @admin.display(description=_("next attempt at"), ordering="next_attempt_at")
    def next_at(self, job: TranscriptionJob) -> str:
        if job.status != J.RETRY_WAIT:
            return "—"
        return formatting.local_datetime(job.next_attempt_at)

    @admin.display(description=_("started at"))
    def started_at_display(self, job: TranscriptionJob) -> str:
        return formatting.local_datetime(job.started_at) or "—"

    @admin.display(description=_("finished at"))
    def finished_at_display(self, job: TranscriptionJob) -> str:
        return formatting.local_datetime(job.finished_at) or "—"

    @admin.display(description=_("cost"))
    def cost_display(self, job: TranscriptionJob) -> str:
        return formatting.money(job.cost)

    @admin.display(description=_("recording URL"))
    def recording_url_display(self, job: TranscriptionJob) -> str:
        # Portal URLs can carry the webhook token; staff pages never show secrets.
        return Redactor(settings.APP_CONFIG.secrets).text(job.recording_url) or "—"

    @admin.display(description=_("deduplication key"))
    def dedup_key_display(self, job: TranscriptionJob) -> str:
        return Redactor(settings.APP_CONFIG.secrets).text(job.dedup_key)

    @admin.display(description=_("history"))
    def history_display(self, job: TranscriptionJob):
        return formatting.pretty_json(job.history) if job.history else "—"

    @admin.action(description=_("Requeue the selected dead letters"), permissions=["change"])
    def requeue(self, request: HttpRequest, queryset: QuerySet[TranscriptionJob]) -> None:
        requeued = 0
        for job_id in queryset.filter(status=J.DEAD_LETTER).values_list("id", flat=True):
            try:
                dead_letters.job_requeue(job_id, actor=request.user, request_id=current_request_id())
            except dead_letters.JobNotRequeueable:
                continue
            requeued += 1
        if requeued:
            dispatch_transcriptions()
        skipped = queryset.count() - requeued
        self.message_user(
            request,
            ngettext("%(count)d transcription requeued.", "%(count)d transcriptions requeued.", requeued)
            % {"count": requeued},
        )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)d job was left alone: only dead letters can be requeued.",
                    "%(count)d jobs were left alone: only dead letters can be requeued.",
                    skipped,
                )
                % {"count": skipped},
                level=messages.WARNING,
            )
