"""Back-office for returns and couriers (RET-30…RET-33).

Returns arrive through the API; staff read them and change their status with
the actions below, which call the same services as the API.  Fields are
read-only here so that no admin save can bypass those services.
"""

from __future__ import annotations

import csv
from collections.abc import Callable

from django.contrib import admin, messages
from django.db.models import Count, Exists, OuterRef, QuerySet, Subquery, Sum
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from simple_history.admin import SimpleHistoryAdmin

from returns import selectors, services
from returns.exceptions import ReturnError
from returns.models import Courier, Return, ReturnLine

# One row per line: the return's columns, then the line's (photos are Bitrix24 file ids, left out).
CSV_COLUMNS = [*selectors.RETURN_COLUMNS, *(name for name in selectors.LINE_COLUMNS if name != "photos")]


class UnknownCourierFilter(admin.SimpleListFilter):
    """RET-02: returns whose courier_id names no Courier row (yet)."""

    title = "courier"
    parameter_name = "courier_known"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("no", "Unknown courier"), ("yes", "Known courier")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Return]) -> QuerySet[Return]:
        known = Exists(Courier.objects.filter(courier_id=OuterRef("courier_id")))
        if self.value() == "no":
            return queryset.filter(~known)
        if self.value() == "yes":
            return queryset.filter(known)
        return queryset


class ReturnLineInline(admin.TabularInline):
    model = ReturnLine
    fields = ["line_id", "sku", "qty", "quality", "reason_code", "reason_note", "photos", "imei", "serial"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Return | None = None) -> bool:
        return False


def _status_action(
    service: Callable[..., Return], *, name: str, label: str, done_verb: str
) -> Callable[[admin.ModelAdmin, HttpRequest, QuerySet[Return]], None]:
    """An admin action that applies one status service to each selected return (RET-33)."""

    @admin.action(description=label)
    def action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Return]) -> None:
        done, refused = 0, []
        for return_id in queryset.values_list("return_id", flat=True):
            try:
                service(return_id=return_id, actor=f"admin:{request.user.get_username()}")
                done += 1
            except ReturnError as error:
                refused.append(str(error))
        if done:
            modeladmin.message_user(request, f"{done_verb} {done} return(s).", messages.SUCCESS)
        for reason in refused:
            modeladmin.message_user(request, reason, messages.WARNING)

    action.__name__ = name
    return action


@admin.register(Return)
class ReturnAdmin(SimpleHistoryAdmin):
    list_display = [
        "short_id",
        "status",
        "source",
        "courier",
        "line_count",
        "total_qty",
        "created_at",
        "updated_at",
    ]
    list_filter = ["status", "source", ("created_at", admin.DateFieldListFilter), UnknownCourierFilter]
    search_fields = ["return_id", "courier_id", "order_id_1c", "lines__sku", "lines__imei"]
    date_hierarchy = "created_at"
    list_per_page = 50
    inlines = [ReturnLineInline]
    actions = [
        _status_action(services.return_accept, name="accept", label="Accept selected returns", done_verb="Accepted"),
        _status_action(services.return_reject, name="reject", label="Reject selected returns", done_verb="Rejected"),
        _status_action(services.return_cancel, name="cancel", label="Cancel selected returns", done_verb="Cancelled"),
        "export_csv",
    ]
    fields = [
        "return_id",
        "status",
        "source",
        "courier_id",
        "courier",
        "order_id_1c",
        "manager_id",
        "comment",
        "created_by",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields
    history_list_display = ["status"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Return]:
        courier_name = Courier.objects.filter(courier_id=OuterRef("courier_id")).values("display_name")[:1]
        return (
            super()
            .get_queryset(request)
            .annotate(
                line_count=Count("lines"),
                total_qty=Sum("lines__qty"),
                courier_name=Subquery(courier_name),
            )
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # returns are created through the API

    def has_delete_permission(self, request: HttpRequest, obj: Return | None = None) -> bool:
        return False  # cancelling is the delete (RET-14)

    @admin.display(description="ID", ordering="return_id")
    def short_id(self, obj: Return) -> str:
        return obj.short_id

    @admin.display(description="Courier", ordering="courier_id")
    def courier(self, obj: Return) -> str:
        name = obj.courier_name  # annotated in get_queryset
        return f"{name} ({obj.courier_id})" if name else f"{obj.courier_id} (unknown)"

    @admin.display(description="Lines", ordering="line_count")
    def line_count(self, obj: Return) -> int:
        return obj.line_count

    @admin.display(description="Total qty", ordering="total_qty")
    def total_qty(self, obj: Return) -> int:
        return obj.total_qty or 0

    @admin.action(description="Export selected as CSV")
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Return]) -> HttpResponse:
        """One row per line, the return's header repeated (RET-30)."""
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="returns.csv"'
        response.write("\ufeff")  # Excel opens UTF-8 (Cyrillic) correctly with a BOM
        writer = csv.writer(response)
        writer.writerow(CSV_COLUMNS)
        ids = list(queryset.values_list("return_id", flat=True))
        lines = (
            ReturnLine.objects.filter(return_obj_id__in=ids).select_related("return_obj").order_by("return_obj", "id")
        )
        for line in lines:
            header = line.return_obj
            writer.writerow(
                [_csv_safe(getattr(header, column)) for column in CSV_COLUMNS[:9]]
                + [_csv_safe(getattr(line, column)) for column in CSV_COLUMNS[9:]]
            )
        return response


def _csv_safe(value: object) -> object:
    """Neutralise spreadsheet formulas in free text (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


@admin.register(Courier)
class CourierAdmin(SimpleHistoryAdmin):
    list_display = ["courier_id", "display_name", "phone", "is_active", "b24_user_id", "updated_at"]
    list_filter = ["is_active"]
    search_fields = ["courier_id", "display_name", "phone", "b24_user_id"]
    readonly_fields = ["recent_returns", "created_at", "updated_at"]
    fields = [
        "courier_id",
        "display_name",
        "phone",
        "is_active",
        "b24_user_id",
        "recent_returns",
        "created_at",
        "updated_at",
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Courier | None = None) -> list[str]:
        # The id is the link to returns and to 1C; it is set once.
        return [*self.readonly_fields, "courier_id"] if obj else self.readonly_fields

    @admin.display(description="Recent returns")
    def recent_returns(self, obj: Courier) -> str:
        if obj is None or not obj.pk:
            return "—"
        recent = selectors.courier_recent_returns(courier_id=obj.courier_id)
        if not recent:
            return "No returns yet."
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>',
            (
                (
                    reverse("admin:returns_return_change", args=[item.return_id]),
                    item.short_id,
                    item.get_status_display(),
                    item.get_source_display(),
                    f"{item.created_at:%Y-%m-%d %H:%M} UTC",
                )
                for item in recent
            ),
        )
        return format_html(
            "<table><thead><tr><th>ID</th><th>Status</th><th>Source</th><th>Created</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            rows,
        )
