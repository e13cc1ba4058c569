"""What a transcription costs (STT-10): whole minutes, started ones included, at the per-minute rate."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal


def billable_minutes(seconds: float) -> int:
    """``ceil(seconds / 60)``; exact for float seconds such as 120.0 (no 121st-second rounding error)."""
    if seconds <= 0:
        return 0
    minutes = Decimal(str(round(seconds, 3))) / 60
    return int(minutes.to_integral_value(rounding=ROUND_CEILING))


def transcription_cost(seconds: float, rate_per_minute_usd: Decimal) -> Decimal:
    """USD at full precision; reports round half-up to cents once, where the amount is shown."""
    return billable_minutes(seconds) * rate_per_minute_usd
