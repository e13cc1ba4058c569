"""The overview's figures are the database's: per local day, coverage, minutes, cost, codes, employees."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import pytest
from django.db.models import Sum

from calls.models import CallRecord, TranscriptionJob
from calls.selectors.overview import calls_overview
from tests.calls.overview import MOSCOW, OVERVIEW_URL, column, make_week, moscow, tile

pytestmark = pytest.mark.django_db

PERIOD = {"date_from": "2026-10-01", "date_to": "2026-10-03"}


@pytest.fixture
def week():
    make_week()


def overview():
    return calls_overview(date_from=date(2026, 10, 1), date_to=date(2026, 10, 3), time_zone=MOSCOW)


def test_calls_are_counted_on_the_moscow_day_they_started(week):
    days = {day.first_day: day for day in overview().days}

    assert [days[date(2026, 10, d)].calls for d in (1, 2, 3)] == [3, 2, 1]
    assert [days[date(2026, 10, d)].completed for d in (1, 2, 3)] == [2, 1, 0]


def test_a_period_holds_every_day_even_without_calls_and_nothing_outside_it():
    make_week()

    result = calls_overview(date_from=date(2026, 9, 30), date_to=date(2026, 10, 2), time_zone=MOSCOW)

    assert [(day.first_day.day, day.calls) for day in result.days] == [(30, 0), (1, 3), (2, 2)]


def test_coverage_is_transcribed_over_calls_whose_audio_was_available(week):
    first, second, third = overview().days

    # The 1st: three recordings, one gone for good (404) — two of two available are transcribed.
    assert (first.with_recording, first.with_audio, first.completed, first.coverage_percent) == (3, 2, 2, 100.0)
    assert (second.with_audio, second.completed, second.coverage_percent) == (2, 1, 50.0)
    # The 3rd had no recording at all: nothing to cover, so no coverage rather than 0 %.
    assert (third.with_recording, third.coverage_percent) == (0, None)
    assert overview().totals.coverage_percent == pytest.approx(75.0)


def test_minutes_and_cost_are_the_sums_of_the_records_and_their_jobs(week):
    result = overview()
    in_period = CallRecord.objects.filter(call_started_at__gte=moscow(1, 0), call_started_at__lt=moscow(4, 0))

    assert result.totals.call_seconds == in_period.aggregate(s=Sum("duration_sec"))["s"] == 690
    assert result.totals.billable_minutes == 10
    assert (
        result.totals.billable_minutes
        == TranscriptionJob.objects.filter(call_record__in=in_period).aggregate(m=Sum("billable_minutes"))["m"]
    )
    assert result.totals.cost == in_period.aggregate(c=Sum("transcription_cost"))["c"] == Decimal("0.060")
    assert [day.cost for day in result.days] == [Decimal("0.030"), Decimal("0.030"), Decimal("0")]


def test_error_codes_and_top_employees_are_counted(week):
    result = overview()

    assert {(c.status, c.code, c.count) for c in result.codes} == {
        ("missing_audio", "http_404", 1),
        ("error", "max_retries", 1),
        ("skipped", "no_recording", 1),
    }
    assert next(c.label for c in result.codes if c.code == "http_404") == "запись не найдена (404)"
    assert [(e.employee_id, e.calls, e.completed, e.call_seconds) for e in result.employees] == [
        ("102", 3, 1, 390),
        ("101", 2, 2, 270),
        (None, 1, 0, 30),
    ]


def test_budget_rub_and_forecast_follow_the_configuration(week, settings):
    settings.APP_CONFIG = dataclasses.replace(
        settings.APP_CONFIG, call_export_budget_usd=Decimal("0.12"), usd_rub_rate=Decimal("90")
    )

    result = overview()

    assert result.budget_used_percent == pytest.approx(50.0)
    assert result.cost_rub == Decimal("5.400")
    # A past period: all three days are covered, the next three days cost the same.
    assert result.forecast_usd == Decimal("0.060")


def test_the_page_shows_the_databases_figures_in_russian_format(admin_client, week):
    html = admin_client.get(OVERVIEW_URL, PERIOD, HTTP_ACCEPT_LANGUAGE="ru").content.decode()

    assert tile(html, "Звонки") == "6"
    assert tile(html, "Расшифровано") == "3"
    assert tile(html, "Охват") == "75,0\xa0%"
    assert tile(html, "Минут звонков") == "11,5"
    assert tile(html, "Стоимость") == "$0,060"
    assert tile(html, "Бюджет") == "бюджет не задан"
    assert column(html, "02.10.2026").startswith("все звонки: 2\nс записью: 2\nрасшифровано: 1\nохват: 50,0\xa0%")


def test_the_page_reads_a_handful_of_queries_however_many_records(admin_client, week, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        response = admin_client.get(OVERVIEW_URL, PERIOD)

    assert response.status_code == 200
