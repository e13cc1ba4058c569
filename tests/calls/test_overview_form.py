"""The overview's period: the rolling export's window by default, bad or inverted dates a Russian form error."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.calls.overview import OVERVIEW_URL, make_week

pytestmark = pytest.mark.django_db


def errors(response) -> str:
    return response.context["form"].errors.as_text()


def test_without_a_period_it_shows_the_rolling_export_window_up_to_today(admin_client, settings):
    response = admin_client.get(OVERVIEW_URL)

    overview = response.context["overview"]
    today = timezone.localdate()
    days = settings.APP_CONFIG.call_export_default_days
    assert response.status_code == 200
    assert (overview.date_from, overview.date_to) == (today - timedelta(days=days), today)
    assert len(overview.days) == days + 1


def test_one_day_is_a_period(admin_client):
    make_week()

    response = admin_client.get(OVERVIEW_URL, {"date_from": "2026-10-02", "date_to": "2026-10-02"})

    assert response.status_code == 200
    assert [day.calls for day in response.context["overview"].days] == [2]
    assert len(response.context["charts"]) == 3


@pytest.mark.parametrize(
    ("period", "message"),
    [
        ({"date_from": "2026-10-05", "date_to": "2026-10-01"}, "Период заканчивается раньше, чем начинается."),
        ({"date_from": "01.10.2026x", "date_to": "2026-10-01"}, "Введите правильную дату."),
        ({"date_from": "", "date_to": "2026-10-01"}, "Обязательное поле."),
        ({"date_from": "9999-12-31", "date_to": "9999-12-31"}, "Выберите дни с 2000 по 2100 год."),
        ({"date_from": "2024-01-01", "date_to": "2025-01-01"}, "Период может быть не длиннее 366 дней"),
    ],
)
def test_a_bad_period_is_a_form_error_in_russian_and_no_figures(admin_client, period, message):
    response = admin_client.get(OVERVIEW_URL, period)

    assert response.status_code == 200
    assert message in errors(response)
    assert message in response.content.decode()
    assert "overview" not in response.context
    assert 'class="errornote"' in response.content.decode()


def test_a_leap_year_of_366_days_is_accepted(admin_client):
    response = admin_client.get(OVERVIEW_URL, {"date_from": "2024-01-01", "date_to": "2024-12-31"})

    assert response.status_code == 200
    assert len(response.context["overview"].days) == 366


def test_the_longest_period_follows_call_export_max_period_days(admin_client, settings):
    settings.APP_CONFIG = dataclasses.replace(settings.APP_CONFIG, call_export_max_period_days=7)

    response = admin_client.get(OVERVIEW_URL, {"date_from": "2026-10-01", "date_to": "2026-10-08"})

    assert "Период может быть не длиннее 7 дней" in errors(response)
