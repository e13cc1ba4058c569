"""The delivery report page: the rows and totals of a period, and the same rows as CSV."""

from __future__ import annotations

import pytest
from django.utils import timezone

pytestmark = pytest.mark.django_db

PAGE = "/admin/couriers/order/deliveries/"


def today() -> str:
    return timezone.localdate().isoformat()


def test_the_report_shows_the_last_seven_days_by_default(admin_client, make_order):
    make_order("DONE")

    response = admin_client.get(PAGE)

    assert "Отчёт по доставкам" in response.content.decode()
    assert [row["courier_id"] for row in response.context["rows"]] == ["courier-001"]


def test_the_report_totals_the_cash_collected_over_couriers(admin_client, make_order):
    make_order("DONE", courier_id="courier-001")
    make_order("DONE", courier_id="courier-002")
    make_order("REJECTED")

    response = admin_client.get(PAGE, {"date_from": today(), "date_to": today()})

    totals = response.context["totals"]
    assert (totals["orders"], totals["cash"]) == ("2", '<span class="mm-nowrap">17\xa0800,00\xa0₽</span>')


def test_the_report_refuses_a_period_that_ends_before_it_starts(admin_client):
    response = admin_client.get(PAGE, {"date_from": "2026-10-02", "date_to": "2026-10-01"})

    assert response.context["form"].non_field_errors() and response.context.get("rows") is None


def test_the_csv_download_has_one_row_per_courier_and_day(admin_client, make_order):
    make_order("DONE", courier_id="courier-001")
    make_order("IN_TRANSIT", courier_id="courier-001")

    response = admin_client.get(PAGE + "csv/", {"date_from": today(), "date_to": today()})

    lines = response.content.decode("utf-8-sig").splitlines()
    assert response["Content-Disposition"].startswith('attachment; filename="deliveries-')
    assert lines[0].startswith("day;courier_id;courier_name;orders;")
    assert lines[1].startswith(f"{today()};courier-001;courier-001;2;")


def test_the_order_list_links_to_the_report(admin_client):
    page = admin_client.get("/admin/couriers/order/").content.decode()

    assert 'href="/admin/couriers/order/deliveries/"' in page


def test_the_admin_index_lists_the_report_with_the_walking_warehouse(admin_client):
    page = admin_client.get("/admin/").content.decode()

    assert "Ходячий склад" in page and 'href="/admin/couriers/order/deliveries/"' in page
