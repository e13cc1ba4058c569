"""The delivery report per courier and day (C1-05): counts by status, amounts, cash, delivery time; JSON and CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from couriers.models import OrderStatusLog
from returns.models import Courier
from tests.couriers.conftest import send

pytestmark = pytest.mark.django_db


def test_a_day_of_one_courier_adds_up(onec, courier, make_order):
    done = make_order("DONE")
    make_order("IN_TRANSIT")
    make_order("NEW")  # no courier: not a delivery
    started = OrderStatusLog.objects.get(order=done, to_status="IN_TRANSIT")
    OrderStatusLog.objects.filter(pk=started.pk).update(ts=started.ts - timedelta(minutes=42))
    today = timezone.localdate().isoformat()

    [row] = send(onec, "get", "/report/deliveries", {"date_from": today, "date_to": today}).json()["items"]

    assert row["courier_id"] == "courier-001" and row["day"] == today
    assert row["orders"] == 2
    assert row["by_status"]["DONE"] == 1 and row["by_status"]["IN_TRANSIT"] == 1
    assert row["total_amount"] == "17800.00"
    assert row["delivered_amount"] == "8900.00"
    assert row["cash_collected"] == "8900.00"
    assert row["avg_delivery_minutes"] == pytest.approx(42, abs=0.2)


def test_the_csv_opens_in_a_spreadsheet(onec, courier, make_order):
    make_order("DONE")
    today = timezone.localdate().isoformat()

    response = send(onec, "get", "/report/deliveries", {"date_from": today, "date_to": today, "format": "csv"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeffday;courier_id;courier_name;orders;status_NEW")
    _header, row = text.lstrip("\ufeff").split("\r\n")[:2]
    assert row.startswith(f"{today};courier-001;Иван Петров;1;0;0;0;1;")


def test_other_days_are_left_out(onec, courier, make_order):
    make_order("DONE")
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()

    body = send(onec, "get", "/report/deliveries", {"date_from": yesterday, "date_to": yesterday}).json()

    assert body == {"items": []}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"date_from": "2026-12-02"}, "date_to"),
        ({"date_from": "2026-12-02", "date_to": "2026-12-01"}, "date_to"),
        ({"date_from": "02.12.2026", "date_to": "2026-12-02"}, "date_from"),
        ({"date_from": "2024-01-01", "date_to": "2026-12-02"}, "date_to"),
    ],
)
def test_a_bad_period_is_400_naming_the_parameter(onec, params, field):
    response = send(onec, "get", "/report/deliveries", params)

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field


def test_a_courier_name_a_spreadsheet_would_run_is_written_as_text(onec, make_order):
    Courier.objects.create(courier_id="courier-001", display_name='=HYPERLINK("http://x")')
    make_order("DONE")
    today = timezone.localdate().isoformat()

    response = send(onec, "get", "/report/deliveries", {"date_from": today, "date_to": today, "format": "csv"})

    _header, row = csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";")
    assert row[2] == '\'=HYPERLINK("http://x")'
