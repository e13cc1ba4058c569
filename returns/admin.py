"""Back-office for returns and couriers (RET-30…RET-33).

Returns arrive through the API; staff read them and change their status with
the actions below, which call the same services as the API.  Fields are
read-only here so that no admin save can bypass those services.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from couriers.admin.courier_page import backpack_table, recent_orders_table
from mastermobile import formatting
from mastermobile.admin import DateRangeFilter, LargeListMixin, PluralTitleMixin, ViewOnlyPagesMixin, fieldset_fields
from returns import selectors, services
from returns.exceptions import ReturnError
from returns.models import Courier, Return, ReturnLine

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# One row per line: the return's columns, then the line's (photos are Bitrix24 file ids, left out).
CSV_COLUMNS = [*selectors.RETURN_COLUMNS, *(name for name in selectors.LINE_COLUMNS if name != "photos")]


class UnknownCourierFilter(admin.SimpleListFilter):
    """RET-02: returns whose courier_id names no Courier row (yet)."""

    title = _("courier")
    parameter_name = "courier_known"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, StrOrPromise]]:
        return [("no", _("Unknown courier")), ("yes", _("Known courier"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Return]) -> QuerySet[Return]:
        known = Exists(Courier.objects.filter(courier_id=OuterRef("courier_id")))
        if self.value() == "no":
            return queryset.filter(~known)
        if self.value() == "yes":
            return queryset.filter(known)
        return queryset


class OverdueFilter(admin.SimpleListFilter):
    """04 §7 escalation: returns still pending more than a day after they arrived, with how many there are."""

    title = _("waiting time")
    parameter_name = "overdue"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", gettext("Pending for more than a day"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Return]) -> QuerySet[Return]:
        if self.value() == "yes":
            return queryset.filter(selectors.overdue_condition())
        return queryset

    def choices(self, changelist):
        # With "Show counts" on, Django adds the count itself.
        if not changelist.add_facets:
            count = selectors.overdue_count()
            self.lookup_choices = [(value, f"{label} ({count})") for value, label in self.lookup_choices]
        yield from super().choices(changelist)


class ReturnLineInline(admin.TabularInline):
    model = ReturnLine
    # A tuple: the one value suits both attributes' declared types.
    fields = readonly_fields = (
        "line_id",
        "sku",
        "qty",
        "quality",
        "reason_code",
        "reason_note",
        "photos",
        "imei",
        "serial",
    )
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Return | None = None) -> bool:
        return False


STATUS_TONES: dict[str, str] = {
    Return.Status.PENDING: "info",
    Return.Status.ACCEPTED: "ok",
    Return.Status.REJECTED: "error",
    Return.Status.CANCELLED: "muted",
}


def _status_action(
    status: str, *, name: str, label: StrOrPromise, done_message: Callable[[int], str]
) -> Callable[[admin.ModelAdmin, HttpRequest, QuerySet[Return]], None]:
    """An admin action that moves each selected return to ``status`` through the API's service (RET-33)."""

    @admin.action(description=label)
    def action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Return]) -> None:
        done, refused = 0, []
        for return_id in queryset.values_list("return_id", flat=True):
            try:
                services.return_set_status(
                    return_id=return_id, status=status, actor=f"admin:{request.user.get_username()}"
                )
                done += 1
            except ReturnError as error:
                refused.append(str(error))
        if done:
            modeladmin.message_user(request, done_message(done), messages.SUCCESS)
        for reason in refused:
            modeladmin.message_user(request, reason, messages.WARNING)

    action.__name__ = name
    return action


def _accepted(count: int) -> str:
    return ngettext("Accepted %(count)d return.", "Accepted %(count)d returns.", count) % {"count": count}


def _rejected(count: int) -> str:
    return ngettext("Rejected %(count)d return.", "Rejected %(count)d returns.", count) % {"count": count}


def _cancelled(count: int) -> str:
    return ngettext("Cancelled %(count)d return.", "Cancelled %(count)d returns.", count) % {"count": count}


def _require_valid_history_ids(model, object_id: str, version_id: str | None = None) -> None:
    """404 for a history URL whose ids cannot exist (django-simple-history would fail on ``abc`` with a 500)."""
    try:
        model._meta.pk.to_python(unquote(object_id))
        if version_id is not None:
            model.history.model._meta.pk.to_python(version_id)
    except DjangoValidationError:
        raise Http404 from None


@admin.register(Return)
class ReturnAdmin(LargeListMixin, ViewOnlyPagesMixin, SimpleHistoryAdmin):
    add_refused_message = _(
        "Returns are created by couriers and 1C through the API (POST /api/v1/returns); "
        "here staff review them and accept, reject or cancel them."
    )
    list_display = [
        "short_id",
        "status_badge",
        "overdue",
        "source",
        "courier",
        "lines_summary",
        "created_at",
        "updated_at",
    ]
    list_filter = ["status", OverdueFilter, "source", ("created_at", DateRangeFilter), UnknownCourierFilter]
    # What get_search_results compares (returns.selectors.admin_search); Django's own lookups are not used.
    search_fields = ["return_id", "courier_id", "order_id_1c", "lines__sku", "lines__imei", "lines__serial"]
    search_help_text = _("Short id, courier or 1C order exactly, or a line's SKU, IMEI or serial number exactly.")
    list_defer = ["comment"]
    list_per_page = 50
    inlines = [ReturnLineInline]
    actions = [
        _status_action(
            Return.Status.ACCEPTED, name="accept", label=_("Accept selected returns"), done_message=_accepted
        ),
        _status_action(
            Return.Status.REJECTED, name="reject", label=_("Reject selected returns"), done_message=_rejected
        ),
        _status_action(
            Return.Status.CANCELLED, name="cancel", label=_("Cancel selected returns"), done_message=_cancelled
        ),
        "export_csv",
    ]
    fieldsets = [
        (None, {"fields": ["return_id", "status_badge", "source", "courier", "order_id_1c", "manager_id"]}),
        (_("Comment"), {"fields": ["comment"]}),
        (_("Record"), {"fields": ["created_by", "created_at", "updated_at"]}),
    ]
    readonly_fields = fieldset_fields(fieldsets)
    history_list_display = ["status"]

    def history_view(self, request: HttpRequest, object_id: str, extra_context=None) -> HttpResponse:
        _require_valid_history_ids(Return, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request: HttpRequest, object_id: str, version_id: str, extra_context=None):
        _require_valid_history_ids(Return, object_id, version_id)
        return super().history_form_view(request, object_id, version_id, extra_context)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Return]:
        courier_name = Courier.objects.filter(courier_id=OuterRef("courier_id")).values("display_name")[:1]
        return selectors.with_line_totals(super().get_queryset(request)).annotate(
            courier_name=Subquery(courier_name),
            is_overdue=ExpressionWrapper(selectors.overdue_condition(), output_field=BooleanField()),
        )

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Return], search_term: str):
        return selectors.admin_search(queryset, query=search_term), False

    @admin.display(description=_("ID"), ordering="return_id")
    def short_id(self, obj: Return) -> str:
        return obj.short_id

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj: Return):
        return formatting.badge(obj.get_status_display(), STATUS_TONES.get(obj.status, "info"))

    @admin.display(description=_("overdue"))
    def overdue(self, obj: Return) -> str:
        """A red label on returns pending for more than a day (04 §7); blank on the others."""
        if not obj.is_overdue:  # type: ignore[attr-defined]  # annotated in get_queryset
            return ""
        days = (timezone.now() - obj.created_at).days
        return formatting.badge(
            ngettext("Waiting %(days)d day", "Waiting %(days)d days", days) % {"days": days}, "error"
        )

    @admin.display(description=_("courier"), ordering="courier_id")
    def courier(self, obj: Return) -> str:
        name = obj.courier_name  # type: ignore[attr-defined]  # annotated in get_queryset
        if name:
            return f"{name} ({obj.courier_id})"
        return gettext("%(courier)s (unknown)") % {"courier": obj.courier_id}

    @admin.display(description=_("lines / pcs"), ordering="line_count")
    def lines_summary(self, obj: Return) -> str:
        return f"{obj.line_count} / {obj.total_qty or 0}"  # type: ignore[attr-defined]  # annotated in get_queryset

    @admin.action(description=_("Export selected as CSV"))
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
                [formatting.spreadsheet_safe(getattr(header, column)) for column in CSV_COLUMNS[:9]]
                + [formatting.spreadsheet_safe(getattr(line, column)) for column in CSV_COLUMNS[9:]]
            )
        return response


@admin.register(Courier)
class CourierAdmin(PluralTitleMixin, admin.ModelAdmin):
    list_display = ["courier_id", "display_name", "phone", "is_active", "b24_user_id", "updated_at"]
    list_filter = ["is_active"]
    search_fields = ["courier_id", "display_name", "phone", "b24_user_id"]
    readonly_fields = ["backpack_stock", "recent_orders", "recent_returns", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["courier_id", "display_name", "phone", "is_active", "b24_user_id"]}),
        (_("Walking Warehouse"), {"fields": ["backpack_stock", "recent_orders"]}),
        (_("Returns"), {"fields": ["recent_returns"]}),
        (_("Record"), {"fields": ["created_at", "updated_at"]}),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Courier | None = None) -> list[str]:
        # The id is the link to returns and to 1C; it is set once.
        return [*self.readonly_fields, "courier_id"] if obj else self.readonly_fields

    def get_fieldsets(self, request: HttpRequest, obj: Courier | None = None):
        return self.fieldsets if obj else self.fieldsets[:1]

    @admin.display(description=_("in the backpack now"))
    def backpack_stock(self, obj: Courier):
        return backpack_table(obj.courier_id) if obj and obj.pk else formatting.EMPTY

    @admin.display(description=_("recent orders"))
    def recent_orders(self, obj: Courier):
        return recent_orders_table(obj.courier_id) if obj and obj.pk else formatting.EMPTY

    @admin.display(description=_("recent returns"))
    def recent_returns(self, obj: Courier) -> str:
        if obj is None or not obj.pk:
            return formatting.EMPTY
        recent = selectors.courier_recent_returns(courier_id=obj.courier_id)
        if not recent:
            return gettext("No returns yet.")
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>',
            (
                (
                    reverse("admin:returns_return_change", args=[item.return_id]),
                    item.short_id,
                    item.get_status_display(),
                    item.get_source_display(),
                    formatting.local_datetime(item.created_at),
                )
                for item in recent
            ),
        )
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
            gettext("ID"),
            gettext("status"),
            gettext("source"),
            gettext("created at"),
            rows,
        )
