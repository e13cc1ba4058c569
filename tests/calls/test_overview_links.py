"""The overview's error and employee rows open the call records list filtered to the same records."""

from __future__ import annotations

import html as html_module
import re

import pytest

from tests.calls.overview import OVERVIEW_URL, make_week

pytestmark = pytest.mark.django_db

PERIOD = {"date_from": "2026-10-01", "date_to": "2026-10-03"}


def links(page: str, table: str) -> list[str]:
    section = page.split(f'class="module {table}"', 1)[1].split("</table>", 1)[0]
    return [html_module.unescape(url) for url in re.findall(r'<a href="([^"]+)"', section)]


def listed(admin_client, url: str) -> int:
    response = admin_client.get(url)
    assert response.status_code == 200, url
    return response.context["cl"].result_count


def test_each_error_row_lists_the_records_it_counts(admin_client):
    make_week()
    page = admin_client.get(OVERVIEW_URL, PERIOD).content.decode()

    counts = [listed(admin_client, url) for url in links(page, "mm-overview-codes")]

    assert counts == [1, 1, 1]


def test_each_employee_row_lists_that_employees_calls_of_the_period(admin_client):
    make_week()
    page = admin_client.get(OVERVIEW_URL, PERIOD).content.decode()

    counts = [listed(admin_client, url) for url in links(page, "mm-overview-employees")]

    # 102, 101 (without its call of the 4th, outside the period), and the call without an employee.
    assert counts == [3, 2, 1]
