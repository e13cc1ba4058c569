"""Calls overview (the admin dashboard): what the admin's «Обзор звонков» page shows for a period.

A module of its own because the page (:mod:`calls.admin.overview`) is its
only reader and its buckets, codes and employees are read nowhere else.
The overview (:func:`calls_overview`) reads a period in a few aggregate
queries grouped by local day, never row by row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from calls.models import CallRecord, CallRecordStatus, TranscriptionJob, TranscriptionJobStatus, record_code_label

# Beyond this many days a chart shows weeks: 366 daily bars would be 3 px wide on a 1400 px screen.
OVERVIEW_MAX_DAILY_BARS = 92
OVERVIEW_TOP_EMPLOYEES = 10


@dataclass(frozen=True)
class OverviewBucket:
    """One bar of the overview's charts: a local day, or a week of them (``first_day``…``last_day``)."""

    first_day: date
    last_day: date
    calls: int = 0
    with_recording: int = 0  # Bitrix24 has a recording (URL or disk file)
    with_audio: int = 0  # ...and it was not gone for good (``missing_audio``): coverage's denominator
    completed: int = 0
    call_seconds: int = 0
    billable_minutes: int = 0
    cost: Decimal = Decimal(0)

    @property
    def coverage_percent(self) -> float | None:
        """EXP-08: ``completed`` ÷ records with available audio; None when there was no audio to transcribe."""
        return 100.0 * self.completed / self.with_audio if self.with_audio else None

    @property
    def call_minutes(self) -> float:
        return self.call_seconds / 60


@dataclass(frozen=True)
class OverviewCode:
    status: str
    code: str
    label: str
    count: int


@dataclass(frozen=True)
class OverviewEmployee:
    employee_id: str | None  # None: calls Bitrix24 gave no employee
    calls: int
    completed: int
    call_seconds: int
    cost: Decimal


@dataclass(frozen=True)
class CallsOverview:
    """What the "Обзор звонков" page shows for ``date_from``…``date_to``, local days in ``time_zone``.

    ``days`` has one bucket per day of the period, days without calls
    included.  Costs are USD, the sum of the records' unrounded
    ``transcription_cost`` (as the run totals, STT-10); billable minutes are
    those of the succeeded jobs of completed records (as ``CallExport.transcribed_minutes``).
    """

    date_from: date
    date_to: date
    time_zone: tzinfo
    days: list[OverviewBucket]
    codes: list[OverviewCode]
    employees: list[OverviewEmployee]
    budget_usd: Decimal | None
    usd_rub_rate: Decimal
    today: date

    @property
    def totals(self) -> OverviewBucket:
        return _merged(self.days, self.date_from, self.date_to)

    @property
    def cost_usd(self) -> Decimal:
        return self.totals.cost

    @property
    def cost_rub(self) -> Decimal:
        return self.totals.cost * self.usd_rub_rate

    @property
    def period_days(self) -> int:
        return (self.date_to - self.date_from).days + 1

    @property
    def covered_days(self) -> int:
        """Days of the period that have begun: a period reaching into the future is not yet covered there."""
        return max(0, (min(self.date_to, self.today) - self.date_from).days + 1)

    @property
    def forecast_usd(self) -> Decimal | None:
        """EXP-08: the cost of the next period of the same length, at this period's cost per covered day."""
        if not self.covered_days:
            return None
        return self.cost_usd / self.covered_days * self.period_days

    @property
    def budget_used_percent(self) -> float | None:
        if not self.budget_usd:
            return None
        return float(100 * self.cost_usd / self.budget_usd)

    def buckets(self) -> list[OverviewBucket]:
        """The chart bars: the days, or Monday-to-Sunday weeks (cut to the period) past :data:`OVERVIEW_MAX_DAILY_BARS`."""
        if len(self.days) <= OVERVIEW_MAX_DAILY_BARS:
            return self.days
        weeks: dict[date, list[OverviewBucket]] = {}
        for day in self.days:
            weeks.setdefault(day.first_day - timedelta(days=day.first_day.weekday()), []).append(day)
        return [_merged(days, days[0].first_day, days[-1].last_day) for days in weeks.values()]


def _merged(days: list[OverviewBucket], first_day: date, last_day: date) -> OverviewBucket:
    return OverviewBucket(
        first_day=first_day,
        last_day=last_day,
        calls=sum(day.calls for day in days),
        with_recording=sum(day.with_recording for day in days),
        with_audio=sum(day.with_audio for day in days),
        completed=sum(day.completed for day in days),
        call_seconds=sum(day.call_seconds for day in days),
        billable_minutes=sum(day.billable_minutes for day in days),
        cost=sum((day.cost for day in days), Decimal(0)),
    )


def calls_overview(*, date_from: date, date_to: date, time_zone: tzinfo) -> CallsOverview:
    """The overview of the calls that started on local days ``date_from``…``date_to`` (inclusive) in ``time_zone``.

    Four aggregate queries over the ``call_started_at`` range (its index
    ``callrecord_started_at``), whatever the number of records; records
    without a start time are not in any day.
    """
    records = CallRecord.objects.filter(
        call_started_at__gte=datetime.combine(date_from, time.min, tzinfo=time_zone),
        call_started_at__lt=datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=time_zone),
    )
    has_recording = (Q(recording_url__isnull=False) & ~Q(recording_url="")) | Q(record_id__isnull=False)
    per_day = (
        records.annotate(day=TruncDate("call_started_at", tzinfo=time_zone))
        .values("day")
        .annotate(
            calls=Count("id"),
            with_recording=Count("id", filter=has_recording),
            with_audio=Count("id", filter=has_recording & ~Q(status=CallRecordStatus.MISSING_AUDIO)),
            completed=Count("id", filter=Q(status=CallRecordStatus.COMPLETED)),
            call_seconds=Sum("duration_sec"),
            cost=Sum("transcription_cost"),
        )
        .order_by("day")
    )
    minutes = dict(
        TranscriptionJob.objects.filter(
            call_record__in=records.filter(status=CallRecordStatus.COMPLETED), status=TranscriptionJobStatus.SUCCEEDED
        )
        .annotate(day=TruncDate("call_record__call_started_at", tzinfo=time_zone))
        .values("day")
        .annotate(minutes=Sum("billable_minutes"))
        .values_list("day", "minutes")
    )
    found = {row["day"]: row for row in per_day}
    days = []
    for offset in range((date_to - date_from).days + 1):
        day = date_from + timedelta(days=offset)
        row: Mapping[str, Any] = found.get(day, {})
        days.append(
            OverviewBucket(
                first_day=day,
                last_day=day,
                calls=row.get("calls", 0),
                with_recording=row.get("with_recording", 0),
                with_audio=row.get("with_audio", 0),
                completed=row.get("completed", 0),
                call_seconds=row.get("call_seconds") or 0,
                billable_minutes=minutes.get(day) or 0,
                cost=Decimal(row.get("cost") or 0),
            )
        )
    codes = [
        OverviewCode(status=status, code=code, label=record_code_label(code), count=count)
        for status, code, count in records.filter(error_code__isnull=False)
        .exclude(error_code="")
        .values_list("status", "error_code")
        .annotate(count=Count("id"))
        .order_by("-count", "status", "error_code")
    ]
    employees = [
        OverviewEmployee(
            employee_id=row["employee_id"],
            calls=row["calls"],
            completed=row["completed"],
            call_seconds=row["call_seconds"] or 0,
            cost=Decimal(row["cost"] or 0),
        )
        for row in records.values("employee_id")
        .annotate(
            calls=Count("id"),
            completed=Count("id", filter=Q(status=CallRecordStatus.COMPLETED)),
            call_seconds=Sum("duration_sec"),
            cost=Sum("transcription_cost"),
        )
        .order_by("-calls", "-call_seconds", "employee_id")[:OVERVIEW_TOP_EMPLOYEES]
    ]
    config = settings.APP_CONFIG
    return CallsOverview(
        date_from=date_from,
        date_to=date_to,
        time_zone=time_zone,
        days=days,
        codes=codes,
        employees=employees,
        budget_usd=config.call_export_budget_usd,
        usd_rub_rate=config.usd_rub_rate,
        today=timezone.localtime(timezone.now(), time_zone).date(),
    )
