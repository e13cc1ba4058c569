"""``Retry-After`` as Bitrix24, OpenAI and any proxy in between send it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from integrations.headers import retry_after_header_seconds


@pytest.mark.parametrize(
    ("value", "seconds"), [("5", 5.0), ("0.5", 0.5), ("-3", 0.0), (None, None), ("", None), ("soon", None)]
)
def test_delta_seconds_and_unreadable_values(value, seconds):
    assert retry_after_header_seconds(value) == seconds


def test_an_http_date_is_seconds_from_now():
    then = datetime.now(UTC) + timedelta(seconds=30)

    assert retry_after_header_seconds(format_datetime(then, usegmt=True)) == pytest.approx(30, abs=2)


def test_a_date_in_minus_zero_zone_is_read_as_utc_not_refused():
    then = datetime.now(UTC) + timedelta(seconds=60)
    value = then.strftime("%a, %d %b %Y %H:%M:%S -0000")  # parsedate_to_datetime gives a naive datetime for -0000

    assert retry_after_header_seconds(value) == pytest.approx(60, abs=2)
