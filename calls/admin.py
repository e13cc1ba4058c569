"""Back-office screens for export runs and call records (OPS-11…OPS-17)."""

from __future__ import annotations

from datetime import time

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import BooleanField, QuerySet, Value
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from calls import services
from calls.models import (
    RECORD_CODE_LABELS,
    CallExport,
    CallExportStatus,
    CallRecord,
    CallRecordStatus,
    record_code_label,
)
from calls.storage import audio_content_type, default_storage
from mastermobile import formatting
from mastermobile.admin import ViewOnlyPagesMixin, fieldset_fields
from mastermobile.http import ranged_file_response
from mastermobile.observability.logging import Redactor, mask_phone

RUN_STATUS_TONES = {
    CallExportStatus.PENDING: "info",
    CallExportStatus.IN_PROGRESS: "info",
    CallExportStatus.COMPLETED: "ok",
    CallExportStatus.ERROR: "error",
    CallExportStatus.CANCELLED: "muted",
}
RECORD_STATUS_TONES = {
    CallRecordStatus.PENDING: "info",
    CallRecordStatus.DOWNLOADING: "info",
    CallRecordStatus.DOWNLOADED: "info",
    CallRecordStatus.TRANSCRIBING: "info",
    CallRecordStatus.COMPLETED: "ok",
    CallRecordStatus.SKIPPED: "muted",
    CallRecordStatus.ERROR: "error",
    CallRecordStatus.MISSING_AUDIO: "warn",
}
TRIGGER_LABELS = {"manual": _("manual"), "cron": _("schedule"), "api": _("API")}


class StartExportForm(forms.Form):
    # A browser's date picker takes and sends ISO dates, whatever the page's language.
    period_from = forms.DateField(
        label=_("First day"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    period_to = forms.DateField(
        label=_("Last day"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("Inclusive. Days are counted in the %(zone)s time zone."),
    )
    dry_run = forms.BooleanField(
        label=_("Dry run"),
        required=False,
        help_text=_(
            "Only count calls, recordings, minutes and the expected cost. "
            "The run is saved with its estimate; no call records or recordings are stored."
        ),
    )
    generate_summary = forms.BooleanField(
        label=_("Summaries"), required=False, initial=False, help_text=_("Write a summary of each transcribed call.")
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["period_to"].help_text = self.fields["period_to"].help_text % {
            "zone": settings.APP_CONFIG.call_export_timezone
        }

    def clean(self) -> dict:
        data = super().clean()
        if data.get("period_from") and data.get("period_to") and data["period_to"] < data["period_from"]:
            raise forms.ValidationError(_("The period ends before it starts."))
        return data


def _run_period(run: CallExport, *, exact: bool) -> str:
    """Local dates; with ``exact``, times too unless the run covers whole local days (as the admin starts them)."""
    local_from, local_to = timezone.localtime(run.period_from), timezone.localtime(run.period_to)
    whole_days = local_from.time() == time(0, 0, 0) and local_to.time().replace(microsecond=0) == time(23, 59, 59)
    if exact and not whole_days:
        return f"{formatting.local_datetime(run.period_from)} – {formatting.local_datetime(run.period_to)}"
    return f"{formatting.local_date(run.period_from)} – {formatting.local_date(run.period_to)}"


@admin.register(CallExport)
class CallExportAdmin(ViewOnlyPagesMixin, admin.ModelAdmin):
    add_refused_message = _("Runs are started with the “Start export” button on the list of runs.")
    list_display = (
        "short_id",
        "status_badge",
        "period",
        "trigger",
        "progress",
        "downloaded",
        "gaps",
        "cost",
        "started_at",
    )
    list_display_links = ("short_id",)
    list_filter = ("status", ("started_at", admin.DateFieldListFilter))
    search_fields = ("run_id",)
    ordering = ("-started_at",)
    actions = ("start_runs", "resume_runs", "cancel_runs")
    change_list_template = "admin/calls/callexport/change_list.html"
    list_select_related = ("actor",)
    run_section = (
        None,
        {
            "fields": [
                "run_id",
                "status_badge",
                "period_exact",
                "trigger",
                "actor",
                "started_at",
                "finished_at",
                "run_time",
            ]
        },
    )
    failure_section = (_("Failure"), {"fields": ["error_message"], "classes": ["mm-error-box"]})
    progress_section = (
        _("Progress"),
        {
            "fields": [
                "progress",
                "listed_total",
                "total_calls",
                "processed_calls",
                "downloaded_calls",
                "skipped_display",
                "error_calls",
                "missing_audio_calls",
                "records_link",
            ]
        },
    )
    estimate_section = (_("Dry-run estimate"), {"fields": ["estimate_display"]})
    cost_section = (_("Duration and cost"), {"fields": ["total_duration", "transcribed_minutes", "cost"]})
    technical_section = (
        _("Technical details"),
        {"fields": ["options_display", "checkpoint_display"], "classes": ["collapse"]},
    )
    readonly_fields = fieldset_fields(
        [run_section, failure_section, progress_section, estimate_section, cost_section, technical_section]
    )

    def get_fieldsets(self, request: HttpRequest, obj: CallExport | None = None):
        """Only the sections that apply: the failure of a failed run, the estimate of a dry run."""
        sections = [self.run_section]
        if obj is not None and obj.error_message:
            sections.append(self.failure_section)
        sections.append(self.estimate_section if obj is not None and obj.is_dry_run else self.progress_section)
        return [*sections, self.cost_section, self.technical_section]

    @admin.display(description=_("run"), ordering="run_id")
    def short_id(self, run: CallExport) -> str:
        return str(run.run_id)[:8]

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, run: CallExport):
        return formatting.badge(run.get_status_display(), RUN_STATUS_TONES.get(run.status, "info"))

    @admin.display(description=_("period"), ordering="period_from")
    def period(self, run: CallExport):
        return format_html('<span class="mm-nowrap">{}</span>', _run_period(run, exact=False))

    @admin.display(description=_("period"))
    def period_exact(self, run: CallExport) -> str:
        return _run_period(run, exact=True)

    @admin.display(description=_("trigger"))
    def trigger(self, run: CallExport) -> str:
        kind = run.options.get("trigger", "manual")
        label = str(TRIGGER_LABELS.get(kind, kind))
        if run.actor_id:
            label = f"{label} · {run.actor.get_username()}"
        return gettext("%(trigger)s, dry run") % {"trigger": label} if run.is_dry_run else label

    @admin.display(description=_("progress"))
    def progress(self, run: CallExport):
        if run.is_dry_run:
            return formatting.progress_bar(run.progress_percent, gettext("dry run"))
        return formatting.progress_bar(run.progress_percent, f"{run.processed_calls} / {run.total_calls}")

    @admin.display(description=_("downloaded"), ordering="downloaded_calls")
    def downloaded(self, run: CallExport) -> int:
        return run.downloaded_calls

    @admin.display(description=_("gaps"))
    def gaps(self, run: CallExport):
        """Errors and missing recordings: what the report lists as gaps (CALL-03)."""
        count = run.error_calls + run.missing_audio_calls
        if not count:
            return "0"
        return formatting.badge(str(count), "error" if run.error_calls else "warn")

    @admin.display(description=_("cost"), ordering="total_cost")
    def cost(self, run: CallExport) -> str:
        return formatting.money(run.total_cost, run.currency_code)

    @admin.display(description=_("run time"))
    def run_time(self, run: CallExport) -> str:
        end = run.finished_at or timezone.now()
        return formatting.duration_hms((end - run.started_at).total_seconds())

    @admin.display(description=_("total call duration"))
    def total_duration(self, run: CallExport) -> str:
        return formatting.duration_hms(run.total_duration_sec)

    @admin.display(description=_("skipped"))
    def skipped_display(self, run: CallExport):
        if not run.skipped_by_reason:
            return str(run.skipped_calls)
        return format_html(
            "{}<ul class='mm-plain-list'>{}</ul>",
            run.skipped_calls,
            format_html_join(
                "", "<li>{} — {}</li>", ((record_code_label(code), n) for code, n in run.skipped_by_reason.items())
            ),
        )

    @admin.display(description=_("call records"))
    def records_link(self, run: CallExport):
        url = reverse("admin:calls_callrecord_changelist") + f"?run__exact={run.run_id}"
        return format_html('<a href="{}">{}</a>', url, gettext("Show the records of this run"))

    @admin.display(description=_("estimate"))
    def estimate_display(self, run: CallExport):
        estimate = run.options.get("estimate") or {}
        if not estimate:
            return formatting.EMPTY
        rows = [
            (gettext("calls"), estimate.get("calls", 0)),
            (gettext("with a recording"), estimate.get("with_recording", 0)),
            (gettext("total call duration"), formatting.duration_hms(estimate.get("duration_sec", 0))),
            (gettext("minutes to transcribe"), estimate.get("minutes", 0)),
            (gettext("expected cost"), formatting.money(estimate.get("cost_usd", 0), "USD")),
            (gettext("transcription on"), formatting.yes_no(estimate.get("stt_enabled"))),
            (gettext("storage writable"), formatting.yes_no(estimate.get("storage_writable"))),
        ]
        return format_html(
            '<table class="mm-facts">{}</table>', format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows)
        )

    @admin.display(description=_("options"))
    def options_display(self, run: CallExport):
        return formatting.pretty_json({key: value for key, value in run.options.items() if key != "estimate"})

    @admin.display(description=_("listing checkpoint"))
    def checkpoint_display(self, run: CallExport):
        checkpoint = run.checkpoint or {}
        rows = [
            (gettext("listing finished"), formatting.yes_no(bool(checkpoint.get("listed")))),
            (gettext("calls read"), checkpoint.get("seen", 0)),
            (gettext("pages read"), checkpoint.get("pages", 0)),
            (
                gettext("next offset"),
                checkpoint.get("next") if checkpoint.get("next") is not None else formatting.EMPTY,
            ),
            (gettext("already transcribed earlier"), checkpoint.get("already_completed", 0)),
        ]
        return format_html(
            '<table class="mm-facts">{}</table>', format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows)
        )

    def get_urls(self):
        urls = [path("start/", self.admin_site.admin_view(self.start_view), name="calls_callexport_start")]
        return urls + super().get_urls()

    def start_view(self, request: HttpRequest):
        """The "Start export" form (OPS-11)."""
        if not self.has_change_permission(request):
            raise PermissionDenied(gettext("Starting an export needs the permission to change call export runs."))
        default_from, default_to = services.default_period()
        form = StartExportForm(
            request.POST or None, initial={"period_from": default_from.date(), "period_to": default_to.date()}
        )
        if request.method == "POST" and form.is_valid():
            period_from, period_to = services.local_day_range(
                form.cleaned_data["period_from"], form.cleaned_data["period_to"]
            )
            run, created = services.call_export_start(
                period_from=period_from,
                period_to=period_to,
                actor=request.user,
                options={
                    "trigger": "manual",
                    "dry_run": form.cleaned_data["dry_run"],
                    "generate_summary": form.cleaned_data["generate_summary"],
                },
            )
            short = str(run.run_id)[:8]
            if created:
                services.call_export_enqueue(run)
                self.message_user(request, gettext("Export %(run)s queued.") % {"run": short}, messages.SUCCESS)
            else:
                self.message_user(
                    request,
                    gettext("Export %(run)s is already active for this period.") % {"run": short},
                    messages.INFO,
                )
            return HttpResponseRedirect(reverse("admin:calls_callexport_change", args=[run.pk]))
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "opts": self.opts,
            "title": gettext("Start export"),
        }
        return TemplateResponse(request, "admin/calls/callexport/start.html", context)

    @admin.action(description=_("Start selected pending runs"), permissions=["change"])
    def start_runs(self, request: HttpRequest, queryset: QuerySet[CallExport]) -> None:
        runs = list(queryset.filter(status=CallExportStatus.PENDING))
        for run in runs:
            services.call_export_enqueue(run)
        self.message_user(
            request, ngettext("%(count)d run queued.", "%(count)d runs queued.", len(runs)) % {"count": len(runs)}
        )

    @admin.action(description=_("Resume selected runs"), permissions=["change"])
    def resume_runs(self, request: HttpRequest, queryset: QuerySet[CallExport]) -> None:
        resumed = 0
        for run in queryset:
            try:
                run = services.call_export_resume(run=run)
            except services.CallExportError as error:
                self.message_user(request, f"{str(run.run_id)[:8]}: {error}", messages.WARNING)
                continue
            services.call_export_enqueue(run)
            resumed += 1
        self.message_user(
            request, ngettext("%(count)d run resumed.", "%(count)d runs resumed.", resumed) % {"count": resumed}
        )

    @admin.action(description=_("Cancel selected runs"), permissions=["change"])
    def cancel_runs(self, request: HttpRequest, queryset: QuerySet[CallExport]) -> None:
        cancelled = 0
        for run in queryset:
            try:
                services.call_export_cancel(run=run)
            except services.CallExportError as error:
                self.message_user(request, f"{str(run.run_id)[:8]}: {error}", messages.WARNING)
                continue
            cancelled += 1
        self.message_user(
            request,
            ngettext("%(count)d run cancelled.", "%(count)d runs cancelled.", cancelled) % {"count": cancelled},
        )


class ErrorCodeFilter(admin.SimpleListFilter):
    """Error and skip codes by what they mean; a fixed list, so no scan of the table for distinct values."""

    title = _("reason")
    parameter_name = "error_code"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(code, label) for code, label in RECORD_CODE_LABELS.items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[CallRecord]) -> QuerySet[CallRecord]:
        return queryset.filter(error_code=self.value()) if self.value() else queryset


def _masking_for(request: HttpRequest) -> bool:
    return settings.APP_CONFIG.pii_masking_enabled and not request.user.has_perm("calls.view_unmasked_pii")


@admin.register(CallRecord)
class CallRecordAdmin(ViewOnlyPagesMixin, admin.ModelAdmin):
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
        "employee_id",
        ("call_started_at", admin.DateFieldListFilter),
    )
    search_fields = ("=call_id", "=record_id", "from_number", "to_number", "=employee_id")
    list_select_related = ("run",)
    date_hierarchy = "call_started_at"
    actions = ("retry_download",)
    fieldsets = [
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
        (_("Recording"), {"fields": ["audio", "storage_path", "checksum", "audio_duration", "audio_purged_at"]}),
        (
            _("Transcript"),
            {"fields": ["text_preview", "language", "transcript_path", "summary_path", "cost"]},
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

    @admin.display(description=_("transcription cost"))
    def cost(self, record: CallRecord) -> str:
        return formatting.money(record.transcription_cost, record.currency_code, places=4)

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
        payload = record.raw_payload
        if self._masked(record):
            payload = Redactor(mask_pii=True).value(payload)
        return formatting.pretty_json(payload)

    @admin.display(description=_("run"), ordering="run")
    def run_link(self, record: CallRecord):
        url = reverse("admin:calls_callexport_change", args=[record.run_id])
        return format_html('<a href="{}">{}</a>', url, str(record.run_id)[:8])

    @admin.display(description=_("recording"))
    def audio(self, record: CallRecord):
        if not (record.storage_path and record.checksum) or record.audio_purged_at:
            return formatting.EMPTY
        url = reverse("admin:calls_callrecord_audio", args=[record.pk])
        return format_html('<audio controls preload="metadata" src="{}"></audio>', url)

    def get_urls(self):
        audio = path(
            "<path:object_id>/audio/", self.admin_site.admin_view(self.audio_view), name="calls_callrecord_audio"
        )
        return [audio, *super().get_urls()]

    def audio_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
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
        from calls.tasks import enqueue_download

        retried = queryset.filter(status__in=[CallRecordStatus.ERROR, CallRecordStatus.MISSING_AUDIO])
        ids = list(retried.values_list("id", flat=True))
        retried.update(status=CallRecordStatus.PENDING, download_attempts=0, error_code=None, error_message="")
        for record_id in ids:
            enqueue_download(record_id)
        self.message_user(
            request,
            ngettext("%(count)d download queued.", "%(count)d downloads queued.", len(ids)) % {"count": len(ids)},
        )
