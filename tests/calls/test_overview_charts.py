"""The overview's SVG charts: well-formed XML with Russian figures, weeks past 92 days, huge numbers, no data."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest
from django.utils import translation

from calls.charts import Axis, Guide, Series, column_chart, nice_top
from calls.selectors.overview import calls_overview
from mastermobile import formatting
from tests.calls.overview import MOSCOW, OVERVIEW_URL, make_call, make_week, moscow

SVG = "{http://www.w3.org/2000/svg}"


def svgs(html: str) -> list[ET.Element]:
    return [
        ET.fromstring(found)
        for found in re.findall(r'<svg xmlns="http://www.w3.org/2000/svg" class="mm-chart".*?</svg>', html, re.S)
    ]


def title_of(svg: ET.Element) -> str | None:
    title = svg.find(f"{SVG}title")
    assert title is not None
    return title.text


@pytest.mark.django_db
def test_every_chart_of_the_page_is_well_formed_svg_with_russian_titles(admin_client):
    make_week()

    html = admin_client.get(OVERVIEW_URL, {"date_from": "2026-10-01", "date_to": "2026-10-03"}).content.decode()

    charts = svgs(html)
    assert [title_of(chart) for chart in charts] == [
        "Звонки и расшифровки по дням",
        "Минуты по дням",
        "Стоимость расшифровки по дням",
    ]
    tooltips = [title.text or "" for title in charts[0].iter(f"{SVG}title")][1:]
    assert tooltips[0].splitlines() == [
        "01.10.2026",
        "все звонки: 3",
        "с записью: 3",
        "расшифровано: 2",
        "охват: 100,0\xa0%",
    ]
    assert "охват: —" in tooltips[2]  # the 3rd had nothing to transcribe


@pytest.mark.django_db
def test_a_period_without_calls_says_so_instead_of_drawing_empty_charts(admin_client):
    make_week()

    html = admin_client.get(OVERVIEW_URL, {"date_from": "2026-11-01", "date_to": "2026-11-30"}).content.decode()

    assert "Нет звонков за период 01.11.2026 – 30.11.2026." in html
    assert svgs(html) == []


@pytest.mark.django_db
def test_past_92_days_the_bars_are_weeks_that_add_up_to_the_days():
    make_call(moscow(1, 10), status="completed", minutes=2)
    make_call(moscow(5, 10), status="completed", minutes=3)
    make_call(moscow(20, 10))

    overview = calls_overview(date_from=date(2026, 1, 1), date_to=date(2026, 12, 31), time_zone=MOSCOW)

    weeks = overview.buckets()
    assert len(overview.days) == 365 and len(weeks) == 53
    assert weeks[0].first_day == date(2026, 1, 1) and weeks[-1].last_day == date(2026, 12, 31)
    assert all(week.first_day.weekday() == 0 for week in weeks[1:])
    assert sum(week.calls for week in weeks) == 3 and sum(week.billable_minutes for week in weeks) == 5
    october = next(week for week in weeks if week.first_day <= date(2026, 10, 1) <= week.last_day)
    assert (october.first_day, october.last_day, october.calls) == (date(2026, 9, 28), date(2026, 10, 4), 1)


@pytest.mark.django_db
def test_a_year_draws_one_column_per_week(admin_client):
    make_week()

    html = admin_client.get(OVERVIEW_URL, {"date_from": "2026-01-01", "date_to": "2026-12-31"}).content.decode()

    chart = svgs(html)[0]
    assert title_of(chart) == "Звонки и расшифровки по неделям"
    assert len([r for r in chart.iter(f"{SVG}rect") if r.get("class") == "mm-chart-column"]) == 53
    assert "28.09.2026 – 04.10.2026" in html


def test_huge_numbers_get_thousand_separators_and_stay_on_the_axis():
    days = [date(2026, 10, 1) + timedelta(days=n) for n in range(3)]
    with translation.override("ru"):
        svg = column_chart(
            title="Большие числа",
            labels=[f"{day:%d.%m}" for day in days],
            headings=[f"{day:%d.%m.%Y}" for day in days],
            series=[Series("звонки", [1_234_567, 9_876_543, 0], "#417690", text=formatting.number)],
            left=Axis("звонков", formatting.number),
            guides=[Guide("бюджет", 5_000_000, "#c62828")],
        )

    root = ET.fromstring(svg)
    texts = [element.text for element in root.iter(f"{SVG}text")]
    assert "10\xa0000\xa0000" in texts
    assert "02.10.2026\nзвонки: 9\xa0876\xa0543" in [t.text for t in root.iter(f"{SVG}title")]
    legend_y = "8"
    tops = [
        float(r.attrib["y"]) for r in root.iter(f"{SVG}rect") if r.get("fill") == "#417690" and r.get("y") != legend_y
    ]
    assert len(tops) == 2 and min(tops) >= 52  # the tallest bar starts at or below the top of the plot


def test_chart_text_is_escaped_and_the_result_still_parses():
    svg = column_chart(
        title='<script>"x"</script>',
        labels=["<b>"],
        headings=["&amp; <i>"],
        series=[Series("a & b", [1], "#000")],
        left=Axis("<y>", str),
    )

    root = ET.fromstring(svg)
    assert title_of(root) == '<script>"x"</script>'
    assert "<script>" not in svg


@pytest.mark.parametrize(
    ("highest", "top", "ticks"), [(0, 4, 4), (3, 3, 3), (4, 4, 4), (0.03, 0.03, 3), (97, 100, 4), (1_234_567, 1.5e6, 3)]
)
def test_the_axis_ends_at_a_round_number_at_or_above_the_highest_value(highest, top, ticks):
    assert nice_top(highest) == (pytest.approx(top), ticks)


@pytest.mark.parametrize(("highest", "top", "ticks"), [(1, 1, 1), (2, 2, 2), (3, 3, 3), (5, 6, 3), (7, 8, 4)])
def test_a_count_axis_steps_by_whole_numbers(highest, top, ticks):
    assert nice_top(highest, whole=True) == (top, ticks)
