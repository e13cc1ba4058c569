"""Filters of the Markdown report (EXP-08)."""

from __future__ import annotations

import re

from django import template

from calls.models import record_code_label, run_trigger_label

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


@register.filter
def trigger_label(value: str) -> str:
    """How the run was started, in words (``manual`` → «вручную» under the Russian catalogue)."""
    return run_trigger_label(value)


@register.filter
def code_label(value: str) -> str:
    """What a record's error or skip code means (``no_recording`` → «в Битрикс24 нет записи»)."""
    return record_code_label(value)
