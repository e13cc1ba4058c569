"""The «Обзор звонков» page: coverage, minutes, cost and budget of a period as server-drawn charts (EXP-08, OPS-12).

A view of :class:`calls.admin.records.CallRecordAdmin` (``admin:calls_overview``),
open to staff who may view call records.  The numbers come from
:func:`calls.selectors.overview.calls_overview`; the charts are inline SVG from
:mod:`calls.charts`, so the page needs no script and nothing from elsewhere.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import formats
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from calls import services
from calls.charts import Axis, Guide, Series, column_chart
from calls.models import CallRecordStatus
from calls.selectors import overview as overview_selectors
from mastermobile import formatting

# The years a Bitrix24 portal can have calls in, as the API accepts them (calls.api.serializers).
EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2100, 12, 31)
REGISTRY_PERMISSION = "calls.export_callrecord"
COVERAGE_TARGET = 99.0  # OPS-02
BUDGET_TOLERANCE = 20.0  # EXP-08: the deviation flagged, in %
COLOURS = {"calls": "#b0bec5", "recording": "#78909c", "done": "#417690", "line": "#e65100", "budget": "#c62828"}


class OverviewPeriodForm(forms.Form):
    # A browser's date picker takes and sends ISO dates, whatever the page's language.
    date_from = forms.DateField(label=_("First day"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    date_to = forms.DateField(label=_("Last day"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data  # what Form.clean returns, typed as always there
        first, last = data.get("date_from"), data.get("date_to")
        if first is None or last is None:
            return data
        if not (EARLIEST_DAY <= first <= LATEST_DAY and EARLIEST_DAY <= last <= LATEST_DAY):
            raise forms.ValidationError(_("Choose days from 2000 to 2100."))
        if last < first:
            raise forms.ValidationError(_("The period ends before it starts."))
        longest = settings.APP_CONFIG.call_export_max_period_days
        if (last - first).days + 1 > longest:
            raise forms.ValidationError(
                _("The period may be at most %(days)d days long (CALL_EXPORT_MAX_PERIOD_DAYS).") % {"days": longest}
            )
        return data


def default_days() -> tuple[date, date]:
    """The rolling export's window (CALL_EXPORT_DEFAULT_DAYS up to today): what the nightly run works on."""
    first, last = services.default_period()
    return first.date(), last.date()


def overview_page(model_admin: admin.ModelAdmin, request: HttpRequest) -> TemplateResponse:
    if not model_admin.has_view_permission(request):
        raise PermissionDenied(gettext("The calls overview needs the permission to view call records."))
    first, last = default_days()
    form = OverviewPeriodForm(request.GET or None, initial={"date_from": first, "date_to": last})
    context: dict[str, Any] = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": gettext("Calls overview"),
        "form": form,
        "time_zone": settings.APP_CONFIG.call_export_timezone,
        "can_download_registry": request.user.has_perm(REGISTRY_PERMISSION),
    }
    if form.is_bound and not form.is_valid():
        return TemplateResponse(request, "admin/calls/overview.html", context)
    if form.is_bound:
        first, last = form.cleaned_data["date_from"], form.cleaned_data["date_to"]
    overview = overview_selectors.calls_overview(
        date_from=first, date_to=last, time_zone=ZoneInfo(settings.APP_CONFIG.call_export_timezone)
    )
    context.update(
        overview=overview,
        period=f"{formats.date_format(first, 'SHORT_DATE_FORMAT')} – {formats.date_format(last, 'SHORT_DATE_FORMAT')}",
        facts=facts(overview),
        charts=charts(overview) if overview.totals.calls else [],
        codes=code_rows(overview),
        employees=employee_rows(overview),
    )
    return TemplateResponse(request, "admin/calls/overview.html", context)


# The figures above the charts ---------------------------------------------------------


def _usd(amount: Decimal | float) -> str:
    # Sub-cent costs (a few transcribed minutes, the $0.006 rate) would read $0,00 with two places.
    value = Decimal(str(amount))
    places = 2 if abs(value) >= Decimal("0.1") or not value else 3
    return formatting.money(value, "USD", places=places)


def facts(overview: overview_selectors.CallsOverview) -> list[dict[str, Any]]:
    """The KPI tiles: value, one line of detail and whether it misses its target."""
    totals = overview.totals
    coverage = totals.coverage_percent
    budget = overview.budget_usd
    minutes_note = gettext("%(hours)s h; billable %(minutes)s min") % {
        "hours": formatting.number(totals.call_minutes / 60, 1),
        "minutes": formatting.number(totals.billable_minutes),
    }
    per_minute = totals.cost / totals.billable_minutes if totals.billable_minutes else None
    tiles: list[dict[str, Any]] = [
        {
            "label": gettext("Calls"),
            "value": formatting.number(totals.calls),
            "note": gettext("with a recording: %(count)s") % {"count": formatting.number(totals.with_recording)},
        },
        {
            "label": gettext("Transcribed"),
            "value": formatting.number(totals.completed),
            "note": gettext("audio available: %(count)s") % {"count": formatting.number(totals.with_audio)},
        },
        {
            "label": gettext("Coverage"),
            "value": formatting.percent(coverage),
            "note": gettext("target %(target)s") % {"target": formatting.percent(COVERAGE_TARGET, 0)},
            "alert": coverage is not None and coverage < COVERAGE_TARGET,
        },
        {
            "label": gettext("Call minutes"),
            "value": formatting.number(totals.call_minutes, 1),
            "note": minutes_note,
        },
        {
            "label": gettext("Cost"),
            "value": _usd(totals.cost),
            "note": gettext("≈ %(rub)s; %(per_minute)s a minute")
            % {
                "rub": formatting.money(overview.cost_rub, "RUB"),
                "per_minute": _usd(per_minute) if per_minute is not None else formatting.EMPTY,
            },
        },
    ]
    if budget is None:
        tiles.append(
            {
                "label": gettext("Budget"),
                "value": gettext("budget not set"),
                "note": "CALL_EXPORT_BUDGET_USD",
                "wordy": True,
            }
        )
    else:
        used = overview.budget_used_percent
        tiles.append(
            {
                "label": gettext("Budget"),
                "value": _usd(budget),
                "note": gettext("%(used)s used") % {"used": formatting.percent(used)},
                "alert": used is not None and used > 100 + BUDGET_TOLERANCE,
            }
        )
    forecast = overview.forecast_usd
    tiles.append(
        {
            "label": gettext("Forecast"),
            "value": _usd(forecast) if forecast is not None else formatting.EMPTY,
            "note": gettext("next %(days)s days at this period's cost a day") % {"days": overview.period_days},
            "alert": budget is not None and forecast is not None and forecast > budget * Decimal("1.2"),
        }
    )
    return tiles


# Charts ----------------------------------------------------------------------------------


def _day(value: date) -> str:
    return formats.date_format(value, "SHORT_DATE_FORMAT")


def _heading(bucket: overview_selectors.OverviewBucket) -> str:
    if bucket.first_day == bucket.last_day:
        return _day(bucket.first_day)
    return f"{_day(bucket.first_day)} – {_day(bucket.last_day)}"


def _count(value: float | None) -> str:
    return formatting.number(value)


def charts(overview: overview_selectors.CallsOverview) -> list[dict[str, Any]]:
    """Coverage, minutes and cost per day (per week past 92 days), with a title and a line saying what they show."""
    buckets = overview.buckets()
    weekly = len(buckets) != len(overview.days)
    labels = [formats.date_format(bucket.first_day, "d.m") for bucket in buckets]
    headings = [_heading(bucket) for bucket in buckets]
    per = gettext("per week") if weekly else gettext("per day")
    common: dict[str, Any] = {"labels": labels, "headings": headings}
    running, cumulative = Decimal(0), []
    for bucket in buckets:
        running += bucket.cost
        cumulative.append(float(running))
    top_cost = max([float(b.cost) for b in buckets] + [cumulative[-1] if cumulative else 0.0])
    budget = overview.budget_usd
    places = 2 if top_cost >= 0.1 else 3

    def money_tick(value: float | None) -> str:
        return formatting.money(Decimal(str(value or 0)), "USD", places=places)

    return [
        {
            "title": gettext("Calls and transcripts %(per)s") % {"per": per},
            "note": gettext(
                "Bars: all calls, those with a recording, those transcribed. Line: coverage, "
                "transcribed ÷ calls with available audio."
            ),
            "svg": column_chart(
                title=gettext("Calls and transcripts %(per)s") % {"per": per},
                series=[
                    Series(gettext("all calls"), [b.calls for b in buckets], COLOURS["calls"], text=_count),
                    Series(
                        gettext("with a recording"),
                        [b.with_recording for b in buckets],
                        COLOURS["recording"],
                        text=_count,
                    ),
                    Series(gettext("transcribed"), [b.completed for b in buckets], COLOURS["done"], text=_count),
                    Series(
                        gettext("coverage"),
                        [b.coverage_percent for b in buckets],
                        COLOURS["line"],
                        line=True,
                        right_axis=True,
                        text=formatting.percent,
                    ),
                ],
                left=Axis(gettext("calls"), _count, whole=True),
                right=Axis(gettext("coverage"), lambda value: formatting.percent(value, 0), top=100),
                **common,
            ),
        },
        {
            "title": gettext("Minutes %(per)s") % {"per": per},
            "note": gettext("Call length from Bitrix24 and the minutes the transcription service billed."),
            "svg": column_chart(
                title=gettext("Minutes %(per)s") % {"per": per},
                series=[
                    Series(gettext("call minutes"), [b.call_minutes for b in buckets], COLOURS["calls"], text=_count),
                    Series(
                        gettext("billable minutes"), [b.billable_minutes for b in buckets], COLOURS["done"], text=_count
                    ),
                ],
                left=Axis(gettext("minutes"), _count),
                **common,
            ),
        },
        {
            "title": gettext("Transcription cost %(per)s") % {"per": per},
            "note": gettext("Bars: cost of the calls of the day (week). Line: cost since the first day of the period.")
            + (" " + gettext("Dashed: the budget (CALL_EXPORT_BUDGET_USD).") if budget is not None else ""),
            "svg": column_chart(
                title=gettext("Transcription cost %(per)s") % {"per": per},
                series=[
                    Series(gettext("cost"), [float(b.cost) for b in buckets], COLOURS["done"], text=money_tick),
                    Series(
                        gettext("cost to date"),
                        cumulative,
                        COLOURS["line"],
                        line=True,
                        right_axis=True,
                        text=money_tick,
                    ),
                ],
                left=Axis(gettext("a week") if weekly else gettext("a day"), money_tick),
                right=Axis(gettext("to date"), money_tick),
                guides=[
                    Guide(
                        gettext("budget %(amount)s") % {"amount": _usd(budget)},
                        float(budget),
                        COLOURS["budget"],
                        right_axis=True,
                    )
                ]
                if budget is not None
                else [],
                **common,
            ),
        },
    ]


# Tables --------------------------------------------------------------------------------


def _records_url(overview: overview_selectors.CallsOverview, **filters: str) -> str:
    """The call records list filtered to the period (its date filter's parameters) and ``filters``."""
    # Aware moments, spelled as the date filter spells its own links, so local days stay local days.
    query = {
        "call_started_at__gte": str(datetime.combine(overview.date_from, time.min, tzinfo=overview.time_zone)),
        "call_started_at__lt": str(
            datetime.combine(overview.date_to + timedelta(days=1), time.min, tzinfo=overview.time_zone)
        ),
        **filters,
    }
    return reverse("admin:calls_callrecord_changelist") + "?" + urlencode(query)


def _share(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


def code_rows(overview: overview_selectors.CallsOverview) -> list[dict[str, Any]]:
    most = max((code.count for code in overview.codes), default=0)
    return [
        {
            "label": code.label,
            "code": code.code,
            "status": CallRecordStatus(code.status).label if code.status in CallRecordStatus.values else code.status,
            "count": formatting.number(code.count),
            "bar": _share(code.count, most),
            "url": _records_url(overview, error_code=code.code, status__exact=code.status),
        }
        for code in overview.codes
    ]


def employee_rows(overview: overview_selectors.CallsOverview) -> list[dict[str, Any]]:
    most = max((employee.calls for employee in overview.employees), default=0)
    rows = []
    for employee in overview.employees:
        known = employee.employee_id is not None
        rows.append(
            {
                "name": employee.employee_id if known else gettext("no employee"),
                "known": known,
                "calls": formatting.number(employee.calls),
                "completed": formatting.number(employee.completed),
                "minutes": formatting.number(employee.call_seconds / 60),
                "cost": _usd(employee.cost),
                "bar": _share(employee.calls, most),
                "url": _records_url(
                    overview,
                    **({"employee_id__exact": employee.employee_id} if known else {"employee_id__isnull": "True"}),
                ),
            }
        )
    return rows
