"""Back-office screens for export runs and call records (OPS-11…OPS-17)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import BooleanField, Value
from django.http import FileResponse, Http404, HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from calls import services
from calls.models import CallExport, CallExportStatus, CallRecord, CallRecordStatus
from calls.storage import default_storage
from mastermobile.observability.logging import Redactor, mask_phone


class StartExportForm(forms.Form):
    period_from = forms.DateField(label="From (UTC, inclusive)")
    period_to = forms.DateField(label="To (UTC, inclusive)")
    dry_run = forms.BooleanField(required=False, help_text="Count calls, minutes and cost; store nothing.")
    generate_summary = forms.BooleanField(required=False, initial=False)

    def clean(self) -> dict:
        data = super().clean()
        if data.get("period_from") and data.get("period_to") and data["period_to"] < data["period_from"]:
            raise forms.ValidationError("The period ends before it starts.")
        return data


@admin.register(CallExport)
class CallExportAdmin(admin.ModelAdmin):
    list_display = (
        "short_id",
        "status",
        "period",
        "actor",
        "trigger",
        "total_calls",
        "processed_calls",
        "error_calls",
        "missing_audio_calls",
        "skipped_calls",
        "progress",
        "duration",
        "total_cost",
        "started_at",
        "finished_at",
    )
    list_filter = ("status", ("started_at", admin.DateFieldListFilter))
    search_fields = ("run_id",)
    ordering = ("-started_at",)
    actions = ("start_runs", "resume_runs", "cancel_runs")
    change_list_template = "admin/calls/callexport/change_list.html"
    readonly_fields = [f.name for f in CallExport._meta.fields] + ["progress", "duration", "estimate"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="Run")
    def short_id(self, run: CallExport) -> str:
        return str(run.run_id)[:8]

    @admin.display(description="Period")
    def period(self, run: CallExport) -> str:
        return f"{run.period_from:%Y-%m-%d} – {run.period_to:%Y-%m-%d}"

    @admin.display(description="Trigger")
    def trigger(self, run: CallExport) -> str:
        kind = run.options.get("trigger", "manual")
        return f"{kind} (dry run)" if run.is_dry_run else kind

    @admin.display(description="Progress")
    def progress(self, run: CallExport) -> str:
        return f"{run.progress_percent:.1f} %"

    @admin.display(description="Duration")
    def duration(self, run: CallExport) -> str:
        seconds = int(((run.finished_at or timezone.now()) - run.started_at).total_seconds())
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"

    @admin.display(description="Dry-run estimate")
    def estimate(self, run: CallExport) -> str:
        return json.dumps(run.options.get("estimate") or {}, indent=2)

    def get_urls(self):
        urls = [path("start/", self.admin_site.admin_view(self.start_view), name="calls_callexport_start")]
        return urls + super().get_urls()

    def start_view(self, request: HttpRequest):
        """The "Start export" form (OPS-11)."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        default_from, default_to = services.default_period()
        form = StartExportForm(
            request.POST or None, initial={"period_from": default_from.date(), "period_to": default_to.date()}
        )
        if request.method == "POST" and form.is_valid():
            run, created = services.call_export_start(
                period_from=datetime.combine(form.cleaned_data["period_from"], time(0, 0, 0), tzinfo=UTC),
                period_to=datetime.combine(form.cleaned_data["period_to"], time(23, 59, 59), tzinfo=UTC),
                actor=request.user,
                options={
                    "trigger": "manual",
                    "dry_run": form.cleaned_data["dry_run"],
                    "generate_summary": form.cleaned_data["generate_summary"],
                },
            )
            if created:
                services.call_export_enqueue(run)
                self.message_user(request, f"Export {run.run_id} queued.", messages.SUCCESS)
            else:
                self.message_user(request, f"Export {run.run_id} is already active for this period.", messages.INFO)
            return HttpResponseRedirect(reverse("admin:calls_callexport_change", args=[run.pk]))
        context = {**self.admin_site.each_context(request), "form": form, "opts": self.opts, "title": "Start export"}
        return TemplateResponse(request, "admin/calls/callexport/start.html", context)

    @admin.action(description="Start selected pending runs", permissions=["change"])
    def start_runs(self, request: HttpRequest, queryset) -> None:
        runs = list(queryset.filter(status=CallExportStatus.PENDING))
        for run in runs:
            services.call_export_enqueue(run)
        self.message_user(request, f"{len(runs)} run(s) queued.")

    @admin.action(description="Resume selected runs", permissions=["change"])
    def resume_runs(self, request: HttpRequest, queryset) -> None:
        resumed = 0
        for run in queryset:
            try:
                run = services.call_export_resume(run=run)
            except services.CallExportError as error:
                self.message_user(request, f"{run.run_id}: {error}", messages.WARNING)
                continue
            services.call_export_enqueue(run)
            resumed += 1
        self.message_user(request, f"{resumed} run(s) resumed.")

    @admin.action(description="Cancel selected runs", permissions=["change"])
    def cancel_runs(self, request: HttpRequest, queryset) -> None:
        cancelled = 0
        for run in queryset:
            try:
                services.call_export_cancel(run=run)
            except services.CallExportError as error:
                self.message_user(request, f"{run.run_id}: {error}", messages.WARNING)
                continue
            cancelled += 1
        self.message_user(request, f"{cancelled} run(s) cancelled.")


def _masking_for(request: HttpRequest) -> bool:
    return settings.APP_CONFIG.pii_masking_enabled and not request.user.has_perm("calls.view_unmasked_pii")


@admin.register(CallRecord)
class CallRecordAdmin(admin.ModelAdmin):
    list_display = (
        "call_id",
        "call_started_at",
        "direction",
        "from_display",
        "to_display",
        "employee_id",
        "duration_sec",
        "status",
        "error_code",
        "download_attempts",
        "run_link",
    )
    list_filter = (
        "status",
        "direction",
        "error_code",
        "employee_id",
        ("call_started_at", admin.DateFieldListFilter),
    )
    search_fields = ("=call_id", "=record_id", "from_number", "to_number", "=employee_id")
    list_select_related = ("run",)
    date_hierarchy = "call_started_at"
    actions = ("retry_download",)
    exclude = ("from_number", "to_number", "raw_payload", "error_message")
    readonly_fields = (
        "run_link",
        "call_id",
        "record_id",
        "direction",
        "from_display",
        "to_display",
        "employee_id",
        "call_started_at",
        "duration_sec",
        "audio",
        "storage_path",
        "checksum",
        "status",
        "error_code",
        "error_message_display",
        "attempts",
        "download_attempts",
        "stt_attempts",
        "last_attempt_at",
        "transcript_path",
        "summary_path",
        "text_preview",
        "language",
        "transcription_cost",
        "currency_code",
        "audio_duration_sec",
        "audio_purged_at",
        "payload_display",
        "created_at",
        "updated_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest):
        # The masking decision travels with each row, so display methods need no request.
        return (
            super().get_queryset(request).annotate(pii_masked=Value(_masking_for(request), output_field=BooleanField()))
        )

    @staticmethod
    def _masked(record: CallRecord) -> bool:
        return getattr(record, "pii_masked", True)

    def _number(self, record: CallRecord, value: str) -> str:
        return mask_phone(value) if self._masked(record) else value

    @admin.display(description="From")
    def from_display(self, record: CallRecord) -> str:
        return self._number(record, record.from_number)

    @admin.display(description="To")
    def to_display(self, record: CallRecord) -> str:
        return self._number(record, record.to_number)

    @admin.display(description="Error message")
    def error_message_display(self, record: CallRecord) -> str:
        return Redactor(mask_pii=self._masked(record)).text(record.error_message)

    @admin.display(description="Bitrix24 item")
    def payload_display(self, record: CallRecord) -> str:
        payload = record.raw_payload
        if self._masked(record):
            payload = Redactor(mask_pii=True).value(payload)
        return json.dumps(payload, ensure_ascii=False, indent=2)

    @admin.display(description="Run")
    def run_link(self, record: CallRecord) -> str:
        url = reverse("admin:calls_callexport_change", args=[record.run_id])
        return format_html('<a href="{}">{}</a>', url, str(record.run_id)[:8])

    @admin.display(description="Recording")
    def audio(self, record: CallRecord) -> str:
        if not (record.storage_path and record.checksum) or record.audio_purged_at:
            return "—"
        url = reverse("admin:calls_callrecord_audio", args=[record.pk])
        return format_html('<audio controls preload="none" src="{}"></audio>', url)

    def get_urls(self):
        audio = path(
            "<path:object_id>/audio/", self.admin_site.admin_view(self.audio_view), name="calls_callrecord_audio"
        )
        return [audio, *super().get_urls()]

    def audio_view(self, request: HttpRequest, object_id: str) -> FileResponse:
        """Streams stored audio to signed-in staff with view permission; never a public URL (OPS-17)."""
        record = self.get_object(request, object_id)
        if record is None or not record.storage_path or record.audio_purged_at:
            raise Http404("No stored recording")
        if not self.has_view_permission(request, record):
            raise PermissionDenied
        handle = default_storage().open(record.storage_path, "rb")
        head = handle.read(4)
        handle.seek(0)
        content_type = "audio/wav" if head == b"RIFF" else "audio/mpeg"
        response = FileResponse(handle, content_type=content_type)
        response["Cache-Control"] = "private, no-store"
        return response

    @admin.action(description="Retry download", permissions=["change"])
    def retry_download(self, request: HttpRequest, queryset) -> None:
        from calls.tasks import enqueue_download

        retried = queryset.filter(status__in=[CallRecordStatus.ERROR, CallRecordStatus.MISSING_AUDIO])
        ids = list(retried.values_list("id", flat=True))
        retried.update(status=CallRecordStatus.PENDING, download_attempts=0, error_code=None, error_message="")
        for record_id in ids:
            enqueue_download(record_id)
        self.message_user(request, f"{len(ids)} download(s) queued.")
