"""«Отчёт по доставкам»: :func:`couriers.selectors.delivery_report` for a period, as a table and as CSV.

Views of :class:`couriers.admin.orders.OrderAdmin` (``admin:couriers_deliveries``
and ``admin:couriers_deliveries_csv``), open to staff who may view orders.
The CSV is the API's ``?format=csv`` (:mod:`couriers.exports`).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from couriers import selectors
from couriers.admin.display import amount, minutes
from couriers.exports import delivery_csv, report_item
from couriers.models import OrderStatus
from mastermobile import formatting
from returns.models import Courier

DEFAULT_DAYS = 7
LONGEST_PERIOD_DAYS = 366  # as the API allows (couriers.api.serializers)


class DeliveryPeriodForm(forms.Form):
    # A browser's date picker takes and sends ISO dates, whatever the page's language.
    date_from = forms.DateField(label=_("First day"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    date_to = forms.DateField(label=_("Last day"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    courier = forms.ModelChoiceField(
        label=_("Courier"), queryset=Courier.objects.order_by("display_name"), required=False, empty_label=_("all")
    )

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data  # what Form.clean returns, typed as always there
        first, last = data.get("date_from"), data.get("date_to")
        if first and last and last < first:
            raise forms.ValidationError(_("The period ends before it starts."))
        if first and last and (last - first).days + 1 > LONGEST_PERIOD_DAYS:
            raise forms.ValidationError(
                _("The period may be at most %(days)d days long.") % {"days": LONGEST_PERIOD_DAYS}
            )
        return data


def default_period(today: date | None = None) -> tuple[date, date]:
    """The last seven local days, today included."""
    last = today or timezone.localdate()
    return last - timedelta(days=DEFAULT_DAYS - 1), last


def _period_form(request: HttpRequest) -> DeliveryPeriodForm:
    first, last = default_period()
    return DeliveryPeriodForm(request.GET or None, initial={"date_from": first, "date_to": last})


def _chosen(form: DeliveryPeriodForm) -> dict[str, Any]:
    """The selector's arguments: the form's when it was sent, the default period otherwise."""
    if not form.is_bound:
        first, last = default_period()
        return {"date_from": first, "date_to": last, "courier_id": None}
    courier = form.cleaned_data["courier"]
    return {
        "date_from": form.cleaned_data["date_from"],
        "date_to": form.cleaned_data["date_to"],
        "courier_id": courier.pk if courier else None,
    }


def _require_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> None:
    if not model_admin.has_view_permission(request):
        raise PermissionDenied(gettext("The delivery report needs the permission to view orders."))


def report_page(model_admin: admin.ModelAdmin, request: HttpRequest) -> TemplateResponse:
    _require_view(model_admin, request)
    form = _period_form(request)
    context: dict[str, Any] = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": gettext("Delivery report"),
        "form": form,
        "time_zone": settings.TIME_ZONE,
        "statuses": [status.label for status in OrderStatus],
    }
    if form.is_bound and not form.is_valid():
        return TemplateResponse(request, "admin/couriers/order/deliveries.html", context)
    chosen = _chosen(form)
    rows = selectors.delivery_report(**chosen)
    day = "SHORT_DATE_FORMAT"
    context.update(
        period=f"{formats.date_format(chosen['date_from'], day)} – {formats.date_format(chosen['date_to'], day)}",
        rows=[_row(row) for row in rows],
        totals=_totals(rows),
        csv_query=urlencode({key: value for key, value in request.GET.items() if key in form.fields}),
    )
    return TemplateResponse(request, "admin/couriers/order/deliveries.html", context)


def report_csv(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    """The period's rows as the API's CSV; a bad period shows the report page with its form errors."""
    _require_view(model_admin, request)
    form = _period_form(request)
    if form.is_bound and not form.is_valid():
        return report_page(model_admin, request)
    chosen = _chosen(form)
    rows = selectors.delivery_report(**chosen)
    response = HttpResponse(delivery_csv(report_item(row) for row in rows), content_type="text/csv; charset=utf-8")
    name = f"deliveries-{chosen['date_from']:%Y%m%d}-{chosen['date_to']:%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _orders_url(row: selectors.DeliveryRow) -> str:
    """The order list filtered to the row's courier and local day (the date filter's own parameters)."""
    zone = timezone.get_current_timezone()
    query = {
        "courier": row.courier_id,
        "created_at__gte": str(datetime.combine(row.day, time.min, tzinfo=zone)),
        "created_at__lt": str(datetime.combine(row.day + timedelta(days=1), time.min, tzinfo=zone)),
    }
    return reverse("admin:couriers_order_changelist") + "?" + urlencode(query)


def _row(row: selectors.DeliveryRow) -> dict[str, Any]:
    return {
        "day": formats.date_format(row.day, "SHORT_DATE_FORMAT"),
        "courier": row.courier_name,
        "courier_id": row.courier_id,
        "url": _orders_url(row),
        "orders": formatting.number(row.orders),
        "by_status": [formatting.number(row.by_status[status]) for status in OrderStatus.values],
        "total": amount(row.total_amount),
        "delivered": amount(row.delivered_amount),
        "cash": amount(row.cash_collected),
        "avg": minutes(row.avg_delivery_minutes),
    }


def _totals(rows: list[selectors.DeliveryRow]) -> dict[str, Any]:
    """Sums over the rows; the average delivery time weighted by each row's delivered orders."""
    timed = [(row.avg_delivery_minutes, row.by_status[OrderStatus.DONE]) for row in rows if row.avg_delivery_minutes]
    weight = sum(count for _avg, count in timed)
    return {
        "orders": formatting.number(sum(row.orders for row in rows)),
        "by_status": [formatting.number(sum(row.by_status[status] for row in rows)) for status in OrderStatus.values],
        "total": amount(sum((row.total_amount for row in rows), Decimal("0"))),
        "delivered": amount(sum((row.delivered_amount for row in rows), Decimal("0"))),
        "cash": amount(sum((row.cash_collected for row in rows), Decimal("0"))),
        "avg": minutes(sum(avg * count for avg, count in timed) / weight if weight else None),
    }
