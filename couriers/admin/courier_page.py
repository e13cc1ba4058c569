"""The Walking Warehouse on the courier's page (``returns.admin.CourierAdmin``): the backpack and recent orders."""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext

from couriers import selectors
from couriers.admin.display import amount, order_status_badge
from mastermobile import formatting

RECENT_ORDERS = 10


def _list_link(model: str, courier_id: str, text: str) -> SafeString:
    url = reverse(f"admin:couriers_{model}_changelist") + "?" + urlencode({"courier": courier_id})
    return format_html('<p><a href="{}">{}</a></p>', url, text)


def backpack_table(courier_id: str) -> SafeString | str:
    """What the courier carries now, per SKU: the backpack for sale and the returns compartment."""
    held = list(selectors.courier_stock(courier_id=courier_id))
    movements = _list_link("stockmovement", courier_id, gettext("All stock movements of the courier"))
    if not held:
        return format_html("{}{}", gettext("The backpack is empty."), movements)
    rows = format_html_join(
        "",
        '<tr><td>{}</td><td class="mm-number">{}</td><td class="mm-number">{}</td><td>{}</td></tr>',
        (
            (
                row.sku,
                formatting.number(row.qty),
                formatting.number(row.returned_qty),
                formatting.local_datetime(row.updated_at),
            )
            for row in held
        ),
    )
    return format_html(
        '<table><thead><tr><th>{}</th><th class="mm-number">{}</th><th class="mm-number">{}</th><th>{}</th></tr>'
        "</thead><tbody>{}</tbody></table>{}",
        gettext("SKU"),
        gettext("in the backpack"),
        gettext("in the returns compartment"),
        gettext("updated at"),
        rows,
        movements,
    )


def recent_orders_table(courier_id: str) -> SafeString | str:
    """The courier's latest orders, each linking to its page."""
    recent = list(selectors.courier_recent_orders(courier_id=courier_id, limit=RECENT_ORDERS))
    if not recent:
        return gettext("No orders yet.")
    rows = format_html_join(
        "",
        '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td class="mm-number">{}</td><td>{}</td></tr>',
        (
            (
                reverse("admin:couriers_order_change", args=[order.pk]),
                order.pk,
                order.title,
                order_status_badge(order.status),
                amount(order.total_amount, order.currency_code),
                formatting.local_datetime(order.created_at),
            )
            for order in recent
        ),
    )
    return format_html(
        '<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th class="mm-number">{}</th><th>{}</th></tr></thead>'
        "<tbody>{}</tbody></table>{}",
        gettext("order"),
        gettext("title"),
        gettext("status"),
        gettext("total"),
        gettext("created at"),
        rows,
        _list_link("order", courier_id, gettext("All orders of the courier")),
    )
