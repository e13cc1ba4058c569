"""Read-only lists of the Walking Warehouse: stock movements, what each backpack holds, assignments.

All three are written by the services only (``stock_move``, ``order_assign``
and the courier's answers); staff search and read them here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from couriers import selectors
from couriers.admin.display import assignment_status_badge, courier_name, signed
from couriers.admin.filters import CourierFilter
from couriers.models import Assignment, CourierStock, StockMovement
from mastermobile import formatting
from mastermobile.admin import DateRangeFilter, LargeListMixin, ReadOnlyModelAdmin

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


@admin.register(StockMovement)
class StockMovementAdmin(LargeListMixin, ReadOnlyModelAdmin):
    add_refused_message = _("Stock movements are recorded when couriers load, sell, take back or unload goods.")
    list_display = ["time", "courier_display", "sku", "kind", "compartment", "delta", "ref", "actor"]
    list_filter = ["kind", "compartment", CourierFilter, ("ts", DateRangeFilter)]
    search_fields = ["sku__exact", "ref__exact"]
    search_help_text = _("SKU or reference (order, shift, 1C document), exactly.")
    list_select_related = ["courier"]
    list_per_page = 100
    # A tuple: the one value suits both attributes' declared types.
    fields = readonly_fields = ("time", "courier_display", "sku", "kind", "compartment", "delta", "ref", "actor")

    @admin.display(description=_("time"), ordering="ts")
    def time(self, movement: StockMovement) -> str:
        return formatting.local_datetime(movement.ts)

    @admin.display(description=_("courier"), ordering="courier__display_name")
    def courier_display(self, movement: StockMovement):
        return courier_name(movement.courier)

    @admin.display(description=_("change"), ordering="qty_delta")
    def delta(self, movement: StockMovement) -> str:
        return signed(movement.qty_delta)


class HeldFilter(admin.SimpleListFilter):
    title = _("what is held")
    parameter_name = "held"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, StrOrPromise]]:
        return [
            ("backpack", _("Goods in the backpack")),
            ("returns", _("Goods in the returns compartment")),
            ("none", _("Nothing left")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[CourierStock]) -> QuerySet[CourierStock]:
        if self.value() == "backpack":
            return queryset.filter(qty__gt=0)
        if self.value() == "returns":
            return queryset.filter(returned_qty__gt=0)
        if self.value() == "none":
            return queryset.filter(qty=0, returned_qty=0)
        return queryset


@admin.register(CourierStock)
class CourierStockAdmin(LargeListMixin, ReadOnlyModelAdmin):
    add_refused_message = _("Backpack stock follows the stock movements; it is not entered by hand.")
    list_display = ["courier_display", "sku", "qty", "returned_qty", "updated"]
    list_filter = [CourierFilter, HeldFilter]
    search_fields = ["sku", "courier__courier_id", "courier__display_name"]
    search_help_text = _("SKU or courier.")
    list_select_related = ["courier"]
    list_per_page = 100
    # A tuple: the one value suits both attributes' declared types.
    fields = readonly_fields = ("courier_display", "sku", "qty", "returned_qty", "updated")

    @admin.display(description=_("courier"), ordering="courier__display_name")
    def courier_display(self, stock: CourierStock):
        return courier_name(stock.courier)

    @admin.display(description=_("updated at"), ordering="updated_at")
    def updated(self, stock: CourierStock) -> str:
        return formatting.local_datetime(stock.updated_at)


@admin.register(Assignment)
class AssignmentAdmin(LargeListMixin, ReadOnlyModelAdmin):
    add_refused_message = _("Assignments are made with the “Assign to a courier” action on the list of orders.")
    list_display = ["created", "order_link", "courier_display", "status_badge", "comment", "reason", "updated"]
    list_filter = ["status", CourierFilter, ("created_at", DateRangeFilter)]
    # What get_search_results compares (couriers.selectors.assignment_search); Django's own lookups are not used.
    search_fields = ["order__id", "order__title", "courier__courier_id", "courier__display_name"]
    search_help_text = _("Order number exactly or part of its title, courier's id exactly or part of the name.")
    list_select_related = ["order", "courier"]
    list_per_page = 50
    # A tuple: the one value suits both attributes' declared types.
    fields = readonly_fields = (
        "order_link",
        "courier_display",
        "status_badge",
        "comment",
        "reason",
        "created",
        "updated",
    )

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Assignment], search_term: str):
        return selectors.assignment_search(queryset, query=search_term), False

    @admin.display(description=_("order"), ordering="order__created_at")
    def order_link(self, assignment: Assignment):
        url = reverse("admin:couriers_order_change", args=[assignment.order_id])
        return format_html('<a href="{}">{}</a> {}', url, assignment.order_id, assignment.order.title)

    @admin.display(description=_("courier"), ordering="courier__display_name")
    def courier_display(self, assignment: Assignment):
        return courier_name(assignment.courier)

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, assignment: Assignment):
        return assignment_status_badge(assignment.status)

    @admin.display(description=_("created at"), ordering="created_at")
    def created(self, assignment: Assignment) -> str:
        return formatting.local_datetime(assignment.created_at)

    @admin.display(description=_("updated at"), ordering="updated_at")
    def updated(self, assignment: Assignment) -> str:
        return formatting.local_datetime(assignment.updated_at)
