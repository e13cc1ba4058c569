"""The registry from the admin (EXP-03/04) and the audit of every registry download."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from calls import services
from calls.admin.overview import REGISTRY_PERMISSION, OverviewPeriodForm, overview_page
from calls.models import RegistryDownload
from calls.registry import REGISTRY_COLUMNS, registry_download
from mastermobile.admin import ReadOnlyModelAdmin

UNMASKED_PERMISSION = "calls.view_unmasked_pii"


def registry_download_response(
    model_admin: admin.ModelAdmin, request: HttpRequest
) -> HttpResponse | StreamingHttpResponse:
    """The overview's period as the EXP-01 CSV; a bad period shows the overview with its form errors."""
    if not request.user.has_perm(REGISTRY_PERMISSION):
        raise PermissionDenied(gettext("Downloading the registry needs the permission to export call records."))
    form = OverviewPeriodForm(request.GET)
    if not form.is_valid():
        return overview_page(model_admin, request)
    first, last = form.cleaned_data["date_from"], form.cleaned_data["date_to"]
    period_from, period_to = services.local_day_range(first, last)
    chunks = registry_download(
        export_format=RegistryDownload.Format.CSV,
        columns=REGISTRY_COLUMNS,
        filters={"period_from": period_from, "period_to": period_to},
        unmasked=request.user.has_perm(UNMASKED_PERMISSION),
        principal=f"session:{request.user.get_username()}",
        user=request.user,
        channel=RegistryDownload.Channel.ADMIN,
        endpoint=request.path,
    )
    response = StreamingHttpResponse(chunks, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="calls_{first.isoformat()}_{last.isoformat()}.csv"'
    response["Cache-Control"] = "no-store"
    return response


@admin.register(RegistryDownload)
class RegistryDownloadAdmin(ReadOnlyModelAdmin):
    """Who downloaded the registry, when, how and with which filters (EXP-03)."""

    list_display = [
        "created_at",
        "principal",
        "channel",
        "format",
        "filters_text",
        "unmasked",
        "row_count",
        "finished_at",
    ]
    list_filter = ["channel", "format", "unmasked", "created_at"]
    search_fields = ["principal", "user__username"]
    date_hierarchy = "created_at"
    list_select_related = ["user"]
    fields = [
        "created_at",
        "principal",
        "user",
        "channel",
        "format",
        "endpoint",
        "filters",
        "unmasked",
        "row_count",
        "finished_at",
    ]

    @admin.display(description=_("filters"))
    def filters_text(self, download: RegistryDownload) -> str:
        return ", ".join(f"{name}={value}" for name, value in download.filters.items()) or "—"
