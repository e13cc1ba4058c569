"""Filters of the Markdown report (EXP-08)."""

from __future__ import annotations

import re

from django import template

register = template.Library()

_LINE_BREAKS = re.compile(r"[\r\n]+")


@register.filter
def cell(value: object) -> str:
    """External text fit for one Markdown table cell: ``|`` escaped, line breaks as spaces, ``—`` when empty."""
    text = _LINE_BREAKS.sub(" ", str(value if value is not None else "")).replace("|", "\\|").strip()
    return text or "—"


@register.filter
def seconds(value: float | None) -> str:
    """A duration as ``1 ч 02 мин 03 с``; ``—`` when unknown."""
    if value is None:
        return "—"
    total = round(value)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} ч {minutes:02d} мин {secs:02d} с"
    if minutes:
        return f"{minutes} мин {secs:02d} с"
    return f"{secs} с"
