"""How the Walking Warehouse's values read in the back-office: status badges, couriers, amounts, deltas."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext

from couriers.models import Assignment, OrderStatus
from mastermobile import formatting
from returns.models import Courier

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

ORDER_TONES: dict[str, str] = {
    OrderStatus.NEW: "info",
    OrderStatus.ASSIGNED: "info",
    OrderStatus.IN_TRANSIT: "warn",
    OrderStatus.DONE: "ok",
    OrderStatus.REJECTED: "muted",
    OrderStatus.DECLINED: "error",
}
ASSIGNMENT_TONES: dict[str, str] = {
    Assignment.Status.PENDING: "info",
    Assignment.Status.ACCEPTED: "ok",
    Assignment.Status.DECLINED: "error",
    Assignment.Status.CLOSED: "muted",
}


def order_status_label(status: str) -> StrOrPromise:
    return OrderStatus(status).label if status in OrderStatus.values else status


def order_status_badge(status: str) -> SafeString:
    return formatting.badge(order_status_label(status), ORDER_TONES.get(status, "info"))


def assignment_status_badge(status: str) -> SafeString:
    label = Assignment.Status(status).label if status in Assignment.Status.values else status
    return formatting.badge(label, ASSIGNMENT_TONES.get(status, "info"))


def courier_name(courier: Courier | None) -> SafeString | str:
    """The courier's name, the id they have in 1C on hover; a dash for none."""
    if courier is None:
        return formatting.EMPTY
    return format_html('<span title="{}">{}</span>', courier.courier_id, courier.display_name)


def amount(value: Decimal | None, currency: str = "RUB") -> SafeString:
    """``8\u00a0900,00\u00a0₽``: roubles the way a Russian receipt writes them, the sign after the number."""
    if value is not None and currency == "RUB":
        text = f"{formatting.number(value, 2)}\N{NO-BREAK SPACE}₽"
    else:
        text = formatting.money(value, currency)
    return format_html('<span class="mm-nowrap">{}</span>', text)


def signed(delta: int) -> str:
    """``+3`` or ``−2`` (a real minus sign), as a clerk writes a movement."""
    return f"+{delta}" if delta > 0 else f"\N{MINUS SIGN}{-delta}"


def minutes(value: float | None) -> str:
    if value is None:
        return formatting.EMPTY
    return gettext("%(minutes)s min") % {"minutes": formatting.number(value, 0)}
