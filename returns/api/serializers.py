"""Translate between JSON and the returns services (RET-11, RET-15).

Input serializers are strict: unknown fields, strings posing as numbers and
numbers posing as integers are refused, so that integration typos surface as
422 instead of being silently dropped or coerced.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.core.validators import RegexValidator
from rest_framework import serializers

from mastermobile.api.datetimes import format_rfc3339
from mastermobile.api.serializers import StrictSerializer
from returns.models import (
    COMMENT_MAX_LENGTH,
    IMEI_PATTERN,
    MAX_LINES,
    MAX_PHOTOS,
    MAX_QTY,
    REASON_NOTE_MAX_LENGTH,
    STATUS_REASON_MAX_LENGTH,
    Return,
    ReturnLine,
)
from returns.selectors import LINE_COLUMNS, RETURN_COLUMNS


class StrictIntegerField(serializers.IntegerField):
    """Only a JSON integer: ``1.5``, ``1.0``, ``"1"`` and ``true`` are refused."""

    default_error_messages = {"invalid": "A JSON integer is required."}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class TextField(serializers.CharField):
    """A string kept exactly as sent; ``required_text`` also refuses whitespace-only values."""

    def __init__(self, *, required_text: bool = False, **kwargs: Any):
        kwargs.setdefault("trim_whitespace", False)
        kwargs.setdefault("allow_blank", not required_text)
        self.required_text = required_text
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        value = super().to_internal_value(data)
        if self.required_text and not value.strip():
            self.fail("blank")
        return value


def _optional_text(max_length: int, **kwargs: Any) -> TextField:
    return TextField(max_length=max_length, required=False, allow_null=True, **kwargs)


class ReturnLineInputSerializer(StrictSerializer):
    sku = TextField(max_length=64, required_text=True)
    qty = StrictIntegerField(min_value=1, max_value=MAX_QTY)
    quality = serializers.ChoiceField(choices=ReturnLine.Quality.choices)
    reason_code = TextField(max_length=64, required_text=True)
    reason_note = _optional_text(REASON_NOTE_MAX_LENGTH)
    photos = serializers.ListField(
        child=TextField(max_length=128, required_text=True), max_length=MAX_PHOTOS, required=False, allow_null=True
    )
    # Not blank: DRF skips validators for "", and the database refuses an IMEI that is not 14–16 digits.
    imei = _optional_text(
        16, allow_blank=False, validators=[RegexValidator(IMEI_PATTERN, "An IMEI is 14 to 16 digits.")]
    )
    serial = _optional_text(64)


class ReturnInputSerializer(StrictSerializer):
    """``ReturnCreate``: the body of POST and PUT."""

    # A declared field, which the serializer's metaclass takes out of the class: Field.source stays as it is.
    source = serializers.ChoiceField(choices=Return.Source.choices)  # type: ignore[assignment]
    courier_id = TextField(max_length=64, required_text=True)
    order_id_1c = _optional_text(64)
    manager_id = _optional_text(64)
    comment = _optional_text(COMMENT_MAX_LENGTH)
    # many=True hands max_length to the ListSerializer (DRF 3.14+), which the stubs do not know.
    items = ReturnLineInputSerializer(many=True, allow_empty=False, max_length=MAX_LINES)  # type: ignore[call-arg]

    class Meta:
        ref_name = "ReturnCreate"


class ReturnStatusInputSerializer(StrictSerializer):
    """``ReturnStatusChange``: the body of ``PATCH /api/v1/returns/{id}/status`` (C1-02).

    ``pending`` is where a return starts and cannot be asked for; which moves the
    current status allows is in the operation's description.
    """

    status = serializers.ChoiceField(
        choices=[(value, label) for value, label in Return.Status.choices if value != Return.Status.PENDING]
    )
    reason = _optional_text(STATUS_REASON_MAX_LENGTH, help_text="Why; kept in the return's history.")

    class Meta:
        ref_name = "ReturnStatusChange"


def return_body(row: Mapping[str, Any], lines: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The ``Return`` body (RET-15) of one header row and its line rows.

    ``row`` holds :data:`returns.selectors.RETURN_COLUMNS` and each line
    :data:`returns.selectors.LINE_COLUMNS`, as ``selectors.return_rows`` and
    ``selectors.return_line_rows`` give them; :class:`ReturnSerializer` feeds it
    model instances the same way, so every endpoint answers with the same shape.
    """
    return {
        "id": str(row["return_id"]),
        "status": row["status"],
        "source": row["source"],
        "courier_id": row["courier_id"],
        "order_id_1c": row["order_id_1c"],
        "manager_id": row["manager_id"],
        "comment": row["comment"],
        "created_at": format_rfc3339(row["created_at"]),
        "updated_at": format_rfc3339(row["updated_at"]),
        "items": [{name: line[name] for name in LINE_COLUMNS} for line in lines],
    }


def _attributes(instance: Any, names: Iterable[str]) -> dict[str, Any]:
    return {name: getattr(instance, name) for name in names}


class ReturnLineSerializer(serializers.ModelSerializer):
    photos = serializers.ListField(child=serializers.CharField(), allow_null=True, read_only=True)

    class Meta:
        model = ReturnLine
        fields = list(LINE_COLUMNS)
        read_only_fields = fields

    def to_representation(self, instance: ReturnLine) -> dict[str, Any]:
        return _attributes(instance, LINE_COLUMNS)


class ReturnSerializer(serializers.ModelSerializer):
    """``Return``: what every read and write answers with (RET-15)."""

    id = serializers.UUIDField(source="return_id", read_only=True)
    items = ReturnLineSerializer(source="lines", many=True, read_only=True)

    class Meta:
        model = Return
        # RET-15: the stored columns with the primary key exposed as ``id``, then the lines.
        fields = ["id", *(name for name in RETURN_COLUMNS if name != "return_id"), "items"]
        read_only_fields = fields

    def to_representation(self, instance: Return) -> dict[str, Any]:
        lines = (_attributes(line, LINE_COLUMNS) for line in instance.lines.all())
        return return_body(_attributes(instance, RETURN_COLUMNS), lines)
