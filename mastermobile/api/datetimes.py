"""RFC 3339 date-times in and out of the API (PLAT-60): one parser, one format.

Input must carry a UTC offset (``Z`` or ``±hh:mm``) no larger than the
offsets real time zones use (±14:00); it is converted to UTC at once, so no
far offset (PostgreSQL refuses ``-18:10``) or edge year (``0001-01-01T00:00+01:00``
has no UTC value) reaches the database.  Output is always UTC with ``Z``, a
four-digit year and microseconds: ``strftime("%Y")`` writes year 70 as ``70``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

MAX_UTC_OFFSET = timedelta(hours=14)
EXAMPLE = "2024-05-01T10:00:00Z"
# ISO 8601 extended format, RFC 3339's profile of it plus what clients commonly send (no seconds,
# ``+0300``): Python's fromisoformat alone also takes week dates, basic format and stray characters.
_SHAPE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]{1,9})?)?"
    r"(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)?"
)


# What the OpenAPI schema promises a date-time parameter accepts: RFC 3339 with an offset within
# ±14:00 and a year whose instant exists in UTC (1000–9899 leaves room for any offset), so a
# value that matches the schema is never refused by parse_rfc3339.
QUERY_SCHEMA = {
    "type": "string",
    "format": "date-time",
    "pattern": (
        r"^([1-8][0-9]{3}|9[0-8][0-9]{2})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
        r"T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?"
        r"(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9]|[+-]14:00)$"
    ),
    "example": EXAMPLE,
}


def parse_rfc3339(text: str) -> datetime:
    """The instant ``text`` names, as an aware UTC datetime; ``ValueError`` with a message for the client otherwise."""
    value = text.strip()
    invalid = ValueError(f"Enter an RFC 3339 date-time such as {EXAMPLE}.")
    if not _SHAPE.fullmatch(value):
        raise invalid
    if value[-1:] in ("Z", "z"):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise invalid from None
    offset = parsed.utcoffset()
    if offset is None:
        raise ValueError("Include a UTC offset, e.g. Z or +03:00.")
    if abs(offset) > MAX_UTC_OFFSET:
        raise ValueError("The UTC offset must be between -14:00 and +14:00.")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError("The date-time is out of range.") from None


def format_rfc3339(value: datetime) -> str:
    """``value`` in UTC as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``."""
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
