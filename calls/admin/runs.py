"""Back-office screens for call export runs: the list, the run page and the "Start export" form (OPS-11…OPS-16)."""

from __future__ import annotations

from datetime import time
from typing import TYPE_CHECKING

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from calls import reports, services
from calls.models import (
    CallExport,
    CallExportStatus,
    record_code_label,
    run_trigger_label,
)
from calls.storage import default_storage
from mastermobile import formatting
from mastermobile.admin import ViewOnlyPagesMixin, fieldset_fields

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

RUN_STATUS_TONES: dict[str, str] = {
    CallExportStatus.PENDING: "info",
    CallExportStatus.IN_PROGRESS: "info",
    CallExportStatus.COMPLETED: "ok",
    CallExportStatus.ERROR: "error",
    CallExportStatus.CANCELLED: "muted",
}
PACKAGE_FILES = {
    # kind in the URL: (label, content type)
    "report": (_("report"), "text/markdown; charset=utf-8"),
    "registry": (_("registry"), "text/csv; charset=utf-8"),
    "log": (_("stage log"), "application/x-ndjson; charset=utf-8"),
}


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
        super().clean()
        data = self.cleaned_data  # what Form.clean returns, typed as always there
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
    actions = ("start_runs", "resume_runs", "cancel_runs", "rebuild_reports")
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
    package_section = (
        _("Export package"),
        {"fields": ["package_links", "package_built_at", "package_error"]},
    )
    technical_section = (
        _("Technical details"),
        {"fields": ["options_display", "checkpoint_display"], "classes": ["collapse"]},
    )
    readonly_fields = fieldset_fields(
        [
            run_section,
            failure_section,
            progress_section,
            estimate_section,
            cost_section,
            package_section,
            technical_section,
        ]
    )

    def get_fieldsets(self, request: HttpRequest, obj: CallExport | None = None):
        """Only the sections that apply: the failure of a failed run, the estimate of a dry run."""
        sections: list[tuple[StrOrPromise | None, dict[str, list[str]]]] = [self.run_section]
        if obj is not None and obj.error_message:
            sections.append(self.failure_section)
        sections.append(self.estimate_section if obj is not None and obj.is_dry_run else self.progress_section)
        sections.append(self.cost_section)
        if obj is not None and not obj.is_dry_run:
            sections.append(self.package_section)
        return [*sections, self.technical_section]

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
        label = run_trigger_label(kind)
        if run.actor is not None:
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

    @admin.display(description=_("files"))
    def package_links(self, run: CallExport):
        if run.package_built_at is None:
            return gettext("not built yet")
        return format_html_join(
            " · ",
            '<a href="{}">{}</a>',
            (
                (reverse("admin:calls_callexport_package", args=[run.pk, kind]), label)
                for kind, (label, _content_type) in PACKAGE_FILES.items()
            ),
        )

    def get_urls(self):
        urls = [
            path("start/", self.admin_site.admin_view(self.start_view), name="calls_callexport_start"),
            path(
                "<path:object_id>/package/<str:kind>/",
                self.admin_site.admin_view(self.package_view),
                name="calls_callexport_package",
            ),
        ]
        return urls + super().get_urls()

    def package_view(self, request: HttpRequest, object_id: str, kind: str) -> FileResponse:
        """One file of the run's export package, streamed from storage to staff allowed to export (EXP-07)."""
        if not request.user.has_perm("calls.export_callrecord"):
            raise PermissionDenied(gettext("Downloading the export package needs the permission to export calls."))
        run = self.get_object(request, object_id)
        if run is None or run.is_dry_run or kind not in PACKAGE_FILES:
            raise Http404(gettext("No such file of the export package"))
        key = getattr(reports.package_keys(run), kind)
        storage = default_storage()
        if not storage.exists(key):
            raise Http404(gettext("No such file of the export package"))
        response = FileResponse(
            storage.open(key, "rb"),
            as_attachment=True,
            filename=key.rsplit("/", 1)[-1],
            content_type=PACKAGE_FILES[kind][1],
        )
        response["Cache-Control"] = "private, no-store"
        return response

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

    @admin.action(description=_("Rebuild the report"), permissions=["change"])
    def rebuild_reports(self, request: HttpRequest, queryset: QuerySet[CallExport]) -> None:
        rebuilt = 0
        for run in queryset:
            try:
                services.call_export_package(run=run)
            except reports.ReportError:
                self.message_user(
                    request,
                    gettext("%(run)s: a dry run has no report.") % {"run": str(run.run_id)[:8]},
                    messages.WARNING,
                )
                continue
            rebuilt += 1
        self.message_user(
            request,
            ngettext("%(count)d report rebuilt.", "%(count)d reports rebuilt.", rebuilt) % {"count": rebuilt},
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
