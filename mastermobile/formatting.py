"""How the back-office shows values: local time, durations, money, progress, JSON.

Storage stays UTC and machine-shaped; these helpers turn values into what a
Russian-speaking operator reads at a glance.  Each returns safe HTML or text.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

EMPTY = "—"
CURRENCY_SIGNS = {"USD": "$", "RUB": "₽", "EUR": "€"}


def local_datetime(value: datetime | None) -> str:
    """``01.10.2026 05:42`` in the configured time zone (TIME_ZONE), or a dash."""
    if value is None:
        return EMPTY
    return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")


def local_date(value: datetime | None) -> str:
    if value is None:
        return EMPTY
    return formats.date_format(timezone.localtime(value), "SHORT_DATE_FORMAT")


def duration_hms(seconds: float | int | None) -> str:
    """``h:mm:ss`` (``0:02:36``); hours grow past 24 rather than turning into days."""
    if seconds is None:
        return EMPTY
    total = int(seconds)
    return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"


def money(amount: Decimal | int | float | None, currency: str = "USD", *, places: int = 2) -> str:
    """``$1 234,56`` in the active language's number format, with the currency sign or code."""
    if amount is None:
        return EMPTY
    quantum = Decimal(1).scaleb(-places)
    rounded = Decimal(amount).quantize(quantum, rounding=ROUND_HALF_UP)
    number = formats.number_format(rounded, places, use_l10n=True, force_grouping=True)
    sign = CURRENCY_SIGNS.get(currency)
    return f"{sign}{number}" if sign else f"{number} {currency}"


def progress_bar(percent: float, label: str = "") -> SafeString:
    """A bar that fills ``percent`` of its width, with the figures beside it."""
    percent = max(0.0, min(100.0, float(percent)))
    shown = formats.number_format(percent, 0)
    return format_html(
        '<span class="mm-progress" title="{}%"><span class="mm-progress-bar" style="width: {}%"></span></span>'
        '<span class="mm-progress-label">{}</span>',
        shown,
        f"{percent:.1f}",
        label or f"{shown}%",
    )


def pretty_json(value: Any) -> SafeString:
    """Indented JSON in a scrollable ``<pre>``, Cyrillic kept readable."""
    if value in (None, {}, []):
        return format_html("{}", EMPTY)
    return format_html('<pre class="mm-json">{}</pre>', json.dumps(value, ensure_ascii=False, indent=2))


def yes_no(value: bool | None) -> str:
    if value is None:
        return EMPTY
    return _("yes") if value else _("no")


def badge(text: StrOrPromise, tone: str) -> SafeString:
    """A coloured label; ``tone`` is one of ok, warn, error, info, muted (static/admin/mastermobile.css)."""
    return format_html('<span class="mm-badge mm-badge-{}">{}</span>', tone, text)


def number(value: Decimal | int | float | None, places: int = 0) -> str:
    """``1 234 567`` or ``12,5``: the active language's grouping and decimal separator."""
    if value is None:
        return EMPTY
    return formats.number_format(value, places, use_l10n=True, force_grouping=True)


def percent(value: float | None, places: int = 1) -> str:
    """``99,5 %``; a dash where there is nothing to divide by."""
    if value is None:
        return EMPTY
    return f"{number(value, places)}\N{NO-BREAK SPACE}%"


def spreadsheet_safe(value: object) -> object:
    """A CSV cell no spreadsheet runs as a formula (CSV injection): free text starting with = + - @ gets a '."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value
