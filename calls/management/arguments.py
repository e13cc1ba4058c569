"""Argument types the calls commands share: a period bound and a yes/no flag."""

from __future__ import annotations

from datetime import UTC, date, datetime

from django.core.management.base import CommandError

from calls.services import local_day_range


def period_bound(value: str, *, end: bool) -> datetime:
    """A date (``YYYY-MM-DD`` or ``YYYYMMDD``) is its first (``--from``) or last (``--to``) second in
    CALL_EXPORT_TIMEZONE; a date-time is taken as given (UTC when it names no offset)."""
    try:
        if len(value) in (8, 10) and "T" not in value:
            day = date.fromisoformat(value)
            first, last = local_day_range(day, day)
            return last if end else first
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CommandError(f"{value!r} is not a date (YYYY-MM-DD or YYYYMMDD) or an ISO-8601 date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def yes_no(value: str) -> bool:
    lowered = value.lower()
    if lowered not in ("true", "false", "1", "0", "yes", "no"):
        raise CommandError(f"expected true or false, got {value!r}")
    return lowered in ("true", "1", "yes")


class RawStream:
    """tqdm needs a plain stream; Django's OutputWrapper would end every redraw with a newline."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> None:
        self.stream.write(text, ending="")

    def flush(self) -> None:
        self.stream.flush()
