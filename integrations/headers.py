"""Reading HTTP answer headers the same way for every integration (no Django, no client library)."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime


def retry_after_header_seconds(value: str | None) -> float | None:
    """A ``Retry-After`` value as seconds from now: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:  # "-0000" means UTC but parses naive
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())
