"""Serializer pieces every API app shares: strict input and RFC 3339 date-times."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rest_framework import serializers

from mastermobile.api.datetimes import EXAMPLE, format_rfc3339, parse_rfc3339


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not declare (422 naming each unknown field)."""

    refuses_unknown_fields = True  # documented as additionalProperties: false (mastermobile.api.schema.AutoSchema)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = [name for name in data if name not in self.fields]
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """Only JSON ``true`` or ``false``: ``0``, ``"yes"`` and ``"true"`` are refused."""

    default_error_messages = {"invalid": "A JSON boolean is required."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class RFC3339DateTimeField(serializers.DateTimeField):
    """A date-time as :mod:`mastermobile.api.datetimes` reads and writes it.

    Input: a string with a UTC offset, optionally between ``earliest`` and
    ``latest`` (inclusive); the value is an aware UTC datetime.  Output: UTC,
    ``Z``, four-digit year — whatever the current time zone (DRF's own field
    renders in ``TIME_ZONE``).
    """

    def __init__(self, *, earliest: datetime | None = None, latest: datetime | None = None, **kwargs: Any):
        self.earliest, self.latest = earliest, latest
        super().__init__(**kwargs)

    def to_internal_value(self, value: Any) -> datetime:
        if not isinstance(value, str):
            raise serializers.ValidationError(f"Enter an RFC 3339 date-time string such as {EXAMPLE}.")
        try:
            moment = parse_rfc3339(value)
        except ValueError as error:
            raise serializers.ValidationError(str(error)) from None
        if (self.earliest and moment < self.earliest) or (self.latest and moment > self.latest):
            raise serializers.ValidationError(
                f"Must be between {format_rfc3339(self.earliest or datetime.min)} "
                f"and {format_rfc3339(self.latest or datetime.max)} (UTC)."
            )
        return moment

    # None for None, as DRF's DateTimeField does; the stubs say str.
    def to_representation(self, value: datetime | None) -> str | None:  # type: ignore[override]
        return None if value is None else format_rfc3339(value)
