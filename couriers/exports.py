"""The delivery report as a spreadsheet: one table of columns for the API's ``?format=csv`` and the admin's button."""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Iterable
from typing import Any

from couriers.models import OrderStatus
from couriers.selectors import DeliveryRow
from mastermobile.formatting import spreadsheet_safe

REPORT_COLUMNS = (
    "day",
    "courier_id",
    "courier_name",
    "orders",
    *(f"status_{status}" for status in OrderStatus.values),
    "total_amount",
    "delivered_amount",
    "cash_collected",
    "avg_delivery_minutes",
)


def report_item(row: DeliveryRow) -> dict[str, Any]:
    """One row as the API answers it: ISO day, amounts as strings with two places."""
    item = dataclasses.asdict(row)
    item["day"] = row.day.isoformat()
    for name in ("total_amount", "delivered_amount", "cash_collected"):
        item[name] = f"{item[name]:.2f}"
    return item


def delivery_csv(items: Iterable[dict[str, Any]]) -> bytes:
    """``report_item`` rows as a spreadsheet opens them: UTF-8 with a BOM, ``;``, CRLF, header first."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(REPORT_COLUMNS)
    for item in items:
        flat = {**item, **{f"status_{status}": count for status, count in item["by_status"].items()}}
        writer.writerow(spreadsheet_safe(flat[name]) for name in REPORT_COLUMNS)
    return ("\ufeff" + out.getvalue()).encode()
