"""List filters shared by the Walking Warehouse's lists."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from returns.models import Courier

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

NO_COURIER = "-"


class CourierFilter(admin.SimpleListFilter):
    """By courier, offering the active couriers only: one indexed query however many orders there are.

    A courier let go keeps their rows; ``?courier=<id>`` (the courier page's
    links) still filters by them.
    """

    title = _("courier")
    parameter_name = "courier"
    offer_none = False

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, StrOrPromise]]:
        active = (
            Courier.objects.filter(is_active=True).order_by("display_name").values_list("courier_id", "display_name")
        )
        choices: list[tuple[str, StrOrPromise]] = [(courier_id, name) for courier_id, name in active]
        chosen = self.value()
        if chosen and chosen != NO_COURIER and chosen not in dict(choices):
            choices.append((chosen, chosen))
        if self.offer_none:
            choices.append((NO_COURIER, _("No courier")))
        return choices

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == NO_COURIER:
            return queryset.filter(courier__isnull=True)
        if self.value():
            return queryset.filter(courier_id=self.value())
        return queryset


class OrderCourierFilter(CourierFilter):
    """Orders may have no courier yet (NEW, back in the pool)."""

    offer_none = True
