"""Back-office screens for call records: masked numbers, the audio player with byte ranges (OPS-17),
the transcript beside the player and the transcript search page (CALL-21)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import BooleanField, QuerySet, Value
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from calls import dead_letters
from calls.admin.downloads import registry_download_response
from calls.admin.overview import overview_page
from calls.admin.transcripts import (
    SEARCH_PAGE_SIZE,
    TranscriptFilter,
    TranscriptSearchForm,
    search_results,
    transcript_panel,
)
from calls.models import (
    RECORD_CODE_LABELS,
    CallRecord,
    CallRecordStatus,
    TranscriptionJob,
    TranscriptionJobStatus,
    record_code_label,
)
from calls.selectors import search as search_selectors
from calls.services import record_retry_download
from calls.storage import audio_content_type, default_storage
from calls.tasks import dispatch_transcriptions
from mastermobile import formatting
from mastermobile.admin import (
    DateRangeFilter,
    DistinctValuesFilter,
    LargeListMixin,
    ViewOnlyPagesMixin,
    fieldset_fields,
)
from mastermobile.http import ranged_file_response
from mastermobile.observability.context import current_request_id
from mastermobile.observability.logging import Redactor, mask_phone

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

RECORD_STATUS_TONES: dict[str, str] = {
    CallRecordStatus.PENDING: "info",
    CallRecordStatus.DOWNLOADING: "info",
    CallRecordStatus.DOWNLOADED: "info",
    CallRecordStatus.TRANSCRIBING: "info",
    CallRecordStatus.COMPLETED: "ok",
    CallRecordStatus.SKIPPED: "muted",
    CallRecordStatus.ERROR: "error",
    CallRecordStatus.MISSING_AUDIO: "warn",
}


class ErrorCodeFilter(admin.SimpleListFilter):
    """Error and skip codes by what they mean; a fixed list, so no scan of the table for distinct values."""

    title = _("reason")
    parameter_name = "error_code"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, StrOrPromise]]:
        return [(code, label) for code, label in RECORD_CODE_LABELS.items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[CallRecord]) -> QuerySet[CallRecord]:
        return queryset.filter(error_code=self.value()) if self.value() else queryset


def _masking_for(request: HttpRequest) -> bool:
    return settings.APP_CONFIG.pii_masking_enabled and not request.user.has_perm("calls.view_unmasked_pii")


@admin.register(CallRecord)
class CallRecordAdmin(LargeListMixin, ViewOnlyPagesMixin, admin.ModelAdmin):
    add_refused_message = _("Call records come from Bitrix24 with each export run.")
    list_display = (
        "call_id",
        "call_started_at",
        "direction",
        "numbers",
        "employee_id",
        "duration",
        "status_display",
    )
    list_filter = (
        "status",
        "direction",
        ErrorCodeFilter,
        TranscriptFilter,
        # The days before the employees: their list is long, the days are what staff pick first.
        ("call_started_at", DateRangeFilter),
        ("employee_id", DistinctValuesFilter),
    )
    # What get_search_results compares (calls.selectors.search.record_search); Django's own lookups are not used.
    search_fields = search_selectors.RECORD_SEARCH_LOOKUPS
    search_help_text = _("Call id, recording id or employee exactly, part of a number, or words said in the call.")
    change_list_template = "admin/calls/callrecord/change_list.html"
    # The list shows none of these; the record's page reads them.
    list_defer = ("raw_payload", "error_message", "text_preview", "recording_url")
    # Staff look for the latest calls first; the index on the start time is read backwards.
    ordering = ("-call_started_at", "-id")
    actions = ("retry_download", "retranscribe", "requeue_failed_transcriptions")
    fieldsets = [
        # The conversation comes first, player beside the text, so that staff can listen and read along
        # without scrolling past the call's facts (the title already names the call and its status).
        (_("Recording and transcript"), {"fields": ["transcript_display"]}),
        (
            _("Call"),
            {
                "fields": [
                    "call_id",
                    "record_id",
                    "direction",
                    "from_display",
                    "to_display",
                    "employee_id",
                    "call_started_at",
                    "duration",
                ]
            },
        ),
        (
            _("Files"),
            {
                "fields": [
                    "audio_duration",
                    "audio_kind",
                    "storage_path",
                    "checksum",
                    "audio_purged_at",
                    "transcript_path",
                    "summary_path",
                ]
            },
        ),
        (
            _("Processing"),
            {
                "fields": [
                    "status_display",
                    "error_message_display",
                    "download_attempts",
                    "stt_attempts",
                    "last_attempt_at",
                    "run_link",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
        (_("Bitrix24 data"), {"fields": ["recording_url_display", "payload_display"], "classes": ["collapse"]}),
    ]
    readonly_fields = fieldset_fields(fieldsets)

    def get_queryset(self, request: HttpRequest):
        # The masking decision travels with each row, so display methods need no request.
        return (
            super().get_queryset(request).annotate(pii_masked=Value(_masking_for(request), output_field=BooleanField()))
        )

    @staticmethod
    def _masked(record: CallRecord) -> bool:
        return getattr(record, "pii_masked", True)

    def _redactor(self, record: CallRecord) -> Redactor:
        return Redactor(settings.APP_CONFIG.secrets, mask_pii=self._masked(record))

    def _number(self, record: CallRecord, value: str) -> str:
        return mask_phone(value) if self._masked(record) else value

    @admin.display(description=_("from → to"))
    def numbers(self, record: CallRecord):
        return format_html(
            '<span class="mm-nowrap">{}</span><br><span class="mm-nowrap">→ {}</span>',
            self._number(record, record.from_number),
            self._number(record, record.to_number),
        )

    @admin.display(description=_("from"), ordering="from_number")
    def from_display(self, record: CallRecord) -> str:
        return self._number(record, record.from_number)

    @admin.display(description=_("to"), ordering="to_number")
    def to_display(self, record: CallRecord) -> str:
        return self._number(record, record.to_number)

    @admin.display(description=_("duration"), ordering="duration_sec")
    def duration(self, record: CallRecord) -> str:
        return formatting.duration_hms(record.duration_sec)

    @admin.display(description=_("audio duration"))
    def audio_duration(self, record: CallRecord) -> str:
        return formatting.duration_hms(record.audio_duration_sec)

    @admin.display(description=_("format"))
    def audio_kind(self, record: CallRecord) -> str:
        return " · ".join(value for value in (record.audio_format, record.audio_codec) if value) or formatting.EMPTY

    @admin.display(description=_("conversation"))
    def transcript_display(self, record: CallRecord):
        return transcript_panel(record, redact=self._redactor(record).text)

    @admin.display(description=_("status"), ordering="status")
    def status_display(self, record: CallRecord):
        badge = formatting.badge(record.get_status_display(), RECORD_STATUS_TONES.get(record.status, "info"))
        if not record.error_code:
            return badge
        return format_html(
            '{} <span class="mm-muted" title="{}">{}</span>',
            badge,
            record.error_code,
            record_code_label(record.error_code),
        )

    @admin.display(description=_("error message"))
    def error_message_display(self, record: CallRecord) -> str:
        return self._redactor(record).text(record.error_message) or formatting.EMPTY

    @admin.display(description=_("recording URL"))
    def recording_url_display(self, record: CallRecord) -> str:
        return self._redactor(record).text(record.recording_url or "") or formatting.EMPTY

    @admin.display(description=_("Bitrix24 item"))
    def payload_display(self, record: CallRecord):
        # Secrets (the access key of a recording URL) are masked for everyone, personal data per the viewer.
        return formatting.pretty_json(Redactor(mask_pii=self._masked(record)).value(record.raw_payload))

    @admin.display(description=_("run"), ordering="run")
    def run_link(self, record: CallRecord):
        url = reverse("admin:calls_callexport_change", args=[record.run_id])
        return format_html('<a href="{}">{}</a>', url, str(record.run_id)[:8])

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[CallRecord], search_term: str):
        """Ids, employees and numbers, and the words of the transcript the way the search page finds them."""
        return search_selectors.record_search(queryset, query=search_term), False

    def get_urls(self):
        # Before the model's own URLs: "<path:object_id>/" would take "transcripts/search/" for an object id.
        own = [
            path("<path:object_id>/audio/", self.admin_site.admin_view(self.audio_view), name="calls_callrecord_audio"),
            path(
                "transcripts/search/",
                self.admin_site.admin_view(self.transcript_search_view),
                name="calls_callrecord_transcript_search",
            ),
            path("overview/", self.admin_site.admin_view(self.overview_view), name="calls_overview"),
            path("registry/", self.admin_site.admin_view(self.registry_view), name="calls_registry_download"),
        ]
        return [*own, *super().get_urls()]

    def registry_view(self, request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
        """The registry of the overview's period as CSV (calls.admin.downloads)."""
        return registry_download_response(self, request)

    def overview_view(self, request: HttpRequest) -> TemplateResponse:
        """The «Обзор звонков» page (calls.admin.overview)."""
        return overview_page(self, request)

    def transcript_search_view(self, request: HttpRequest) -> TemplateResponse:
        """The "Поиск по расшифровкам" page (CALL-21): ranked hits with a highlighted fragment, 20 a page."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = TranscriptSearchForm(request.GET)
        query = form.cleaned_data["q"] if form.is_valid() else ""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Search transcripts"),
            "form": form,
            "query": query,
        }
        if query:
            page = search_selectors.transcript_search(
                query=query, limit=SEARCH_PAGE_SIZE, offset=form.cleaned_data["offset"] or 0
            )
            redactor = Redactor(settings.APP_CONFIG.secrets, mask_pii=_masking_for(request))
            context["results"] = search_results(page, query=query, redact=redactor.text)
        return TemplateResponse(request, "admin/calls/callrecord/transcript_search.html", context)

    def audio_view(self, request: HttpRequest, object_id: str) -> HttpResponse | StreamingHttpResponse:
        """Streams stored audio to signed-in staff with view permission; never a public URL (OPS-17).

        Answers byte ranges, so the player can seek in a long call.
        """
        record = self.get_object(request, object_id)
        if record is None or not record.storage_path or record.audio_purged_at:
            raise Http404(gettext("No stored recording"))
        if not self.has_view_permission(request, record):
            raise PermissionDenied
        storage = default_storage()
        size = storage.size(record.storage_path)
        handle = storage.open(record.storage_path, "rb")
        content_type = audio_content_type(handle.read(16))
        response = ranged_file_response(request, handle, size=size, content_type=content_type)
        response["Cache-Control"] = "private, no-store"
        return response

    @admin.action(description=_("Retry download"), permissions=["change"])
    def retry_download(self, request: HttpRequest, queryset: QuerySet[CallRecord]) -> None:
        retried, refused = record_retry_download(queryset)
        self.message_user(
            request,
            ngettext("%(count)d download queued.", "%(count)d downloads queued.", retried) % {"count": retried},
        )
        if refused:
            self.message_user(
                request,
                ngettext(
                    "%(count)d record was left alone: only failed downloads can be retried.",
                    "%(count)d records were left alone: only failed downloads can be retried.",
                    refused,
                )
                % {"count": refused},
                level=messages.WARNING,
            )

    @admin.action(description=_("Re-transcribe"), permissions=["change"])
    def retranscribe(self, request: HttpRequest, queryset: QuerySet[CallRecord]) -> None:
        queued = 0
        for record_id in queryset.filter(status=CallRecordStatus.COMPLETED).values_list("id", flat=True):
            try:
                dead_letters.record_retranscribe(record_id, actor=request.user, request_id=current_request_id())
            except dead_letters.JobNotRequeueable:
                continue
            queued += 1
        if queued:
            dispatch_transcriptions()
        self._report(request, queued, queryset.count() - queued, _("only completed records with stored audio"))

    @admin.action(description=_("Requeue failed transcriptions"), permissions=["change"])
    def requeue_failed_transcriptions(self, request: HttpRequest, queryset: QuerySet[CallRecord]) -> None:
        dead = TranscriptionJob.objects.filter(call_record__in=queryset, status=TranscriptionJobStatus.DEAD_LETTER)
        queued = 0
        for job_id in dead.values_list("id", flat=True):
            try:
                dead_letters.job_requeue(job_id, actor=request.user, request_id=current_request_id())
            except dead_letters.JobNotRequeueable:
                continue
            queued += 1
        if queued:
            dispatch_transcriptions()
        self._report(request, queued, queryset.count() - queued, _("only records whose transcription failed"))

    def _report(self, request: HttpRequest, queued: int, left_alone: int, which: StrOrPromise) -> None:
        self.message_user(
            request,
            ngettext("%(count)d transcription queued.", "%(count)d transcriptions queued.", queued) % {"count": queued},
        )
        if left_alone:
            self.message_user(
                request,
                ngettext(
                    "%(count)d record was left alone: %(which)s qualify.",
                    "%(count)d records were left alone: %(which)s qualify.",
                    left_alone,
                )
                % {"count": left_alone, "which": which},
                level=messages.WARNING,
            )
