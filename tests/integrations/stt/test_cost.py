"""Transcription cost: whole started minutes at the per-minute rate, as Decimal (STT-10)."""

from decimal import Decimal

import pytest

from integrations.stt.cost import billable_minutes, transcription_cost


@pytest.mark.parametrize(
    ("seconds", "minutes"),
    [(0, 0), (0.4, 1), (59.9, 1), (60, 1), (60.0004, 1), (60.001, 2), (120.0, 2), (121, 3)],
)
def test_billable_minutes_are_the_started_minutes(seconds, minutes):
    assert billable_minutes(seconds) == minutes


def test_the_cost_is_exact_decimal_at_the_rate():
    assert transcription_cost(61, Decimal("0.006")) == Decimal("0.012")


def test_nine_thousand_minutes_cost_fifty_four_dollars():
    assert transcription_cost(9_000 * 60, Decimal("0.006")) == Decimal("54.000")
