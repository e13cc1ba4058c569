"""RFC 3339 date-times in and out of the API (PLAT-60)."""

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from mastermobile.api.datetimes import QUERY_SCHEMA, format_rfc3339, parse_rfc3339


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T10:00:00Z", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("2024-05-01T10:00:00+03:00", datetime(2024, 5, 1, 7, tzinfo=UTC)),
        ("2024-05-01T10:00:00.250-14:00", datetime(2024, 5, 2, 0, 0, 0, 250_000, tzinfo=UTC)),
        ("2024-05-01T10:00Z", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("  2024-05-01t10:00:00z ", datetime(2024, 5, 1, 10, tzinfo=UTC)),
    ],
)
def test_an_instant_with_an_offset_is_read_as_utc(text, expected):
    parsed = parse_rfc3339(text)

    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2024-05-01T10:00:00", "Include a UTC offset"),
        ("1964-07-16T12:21:46-18:10", "between -14:00 and +14:00"),
        ("2024-05-01T10:00:00+14:01", "between -14:00 and +14:00"),
        ("0001-01-01T00:00:00+01:00", "out of range"),
        ("9999-12-31T23:59:59-01:00", "out of range"),
        ("2024-05-01T10:00:00\x00Z", "RFC 3339"),
        ("2024-W18-3T10:00:00Z", "RFC 3339"),
        ("20240501T100000Z", "RFC 3339"),
        ("２０２４-05-01T10:00:00Z", "RFC 3339"),
        ("2024-02-30T10:00:00Z", "RFC 3339"),
        ("", "RFC 3339"),
    ],
)
def test_anything_else_is_refused_with_a_reason(text, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_rfc3339(text)


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(70, 1, 1, tzinfo=UTC), "0070-01-01T00:00:00.000000Z"),
        (datetime(2026, 9, 1, 3, 0, tzinfo=timezone(timedelta(hours=3))), "2026-09-01T00:00:00.000000Z"),
        (datetime(2026, 9, 1, 0, 0, 0, 5, tzinfo=UTC), "2026-09-01T00:00:00.000005Z"),
    ],
)
def test_output_is_utc_with_a_four_digit_year(moment, text):
    assert format_rfc3339(moment) == text


@pytest.mark.parametrize(
    "value",
    [
        "1000-01-01T00:00:00+14:00",
        "9899-12-31T23:59:59-14:00",
        "2026-12-01T05:42:33.123456+03:00",
        "2026-12-01T02:42:33Z",
    ],
)
def test_every_value_the_schema_allows_is_accepted_even_at_its_edges(value):
    assert re.fullmatch(QUERY_SCHEMA["pattern"], value)
    assert parse_rfc3339(value).tzinfo is not None


@pytest.mark.parametrize(
    "value", ["0891-07-27T00:14:57-19:10", "2026-12-01T05:42:33+15:00", "9999-12-31T23:59:59-01:00"]
)
def test_values_the_parser_refuses_are_outside_the_schema(value):
    assert not re.fullmatch(QUERY_SCHEMA["pattern"], value)
