"""Translate between JSON and the Walking Warehouse services (spec 04 §3); input is strict, as for returns."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from couriers.models import (
    MAX_AMOUNT_DIGITS,
    MAX_LINES,
    MAX_QTY,
    NOTES_MAX_LENGTH,
    ORDER_ID_PATTERN,
    REASON_MAX_LENGTH,
    Assignment,
    CourierStock,
    Order,
    OrderLine,
    OrderStatus,
    OrderStatusLog,
    StockKind,
    StockMovement,
)
from mastermobile.api.serializers import RFC3339DateTimeField, StrictBooleanField, StrictSerializer
from returns.api.serializers import StrictIntegerField, TextField
from returns.models import COURIER_ID_PATTERN, Courier

MAX_MOVEMENT_LINES = 200


def _optional_text(max_length: int, **kwargs: Any) -> TextField:
    return TextField(max_length=max_length, required=False, allow_null=True, **kwargs)


MONEY_PATTERN = r"^(0|[1-9][0-9]{0,9})(\.[0-9]{1,2})?$"


@extend_schema_field({"type": "string", "pattern": MONEY_PATTERN, "example": "8900.00"})
class MoneyField(serializers.DecimalField):
    """Roubles and kopecks as a string (``"8900.00"``), as every answer gives them.

    A JSON number is refused: a binary float cannot hold kopecks exactly, and
    accepting both would let a client's rounding decide the amount.
    """

    default_error_messages = {"format": 'An amount is a string such as "8900.00": at most 10 digits, 2 decimals.'}

    def __init__(self, **kwargs: Any):
        super().__init__(max_digits=MAX_AMOUNT_DIGITS, decimal_places=2, min_value=0, coerce_to_string=True, **kwargs)

    def to_internal_value(self, data: Any) -> Decimal:
        if not isinstance(data, str) or not re.fullmatch(MONEY_PATTERN, data):
            self.fail("format")
        return super().to_internal_value(data)


def _money(**kwargs: Any) -> MoneyField:
    return MoneyField(**kwargs)


# Couriers ----------------------------------------------------------------


class CourierInputSerializer(StrictSerializer):
    courier_id = TextField(
        max_length=64,
        required_text=True,
        validators=[RegexValidator(COURIER_ID_PATTERN, "Use 1–64 of A-Z a-z 0-9 - _.")],
    )
    display_name = TextField(max_length=200, required_text=True)
    phone = _optional_text(32)
    is_active = StrictBooleanField(required=False, default=True)
    b24_user_id = _optional_text(64)

    class Meta:
        ref_name = "WWCourierCreate"


class CourierSerializer(serializers.ModelSerializer):
    created_at = RFC3339DateTimeField(read_only=True)
    updated_at = RFC3339DateTimeField(read_only=True)

    class Meta:
        model = Courier
        fields = ["courier_id", "display_name", "phone", "is_active", "b24_user_id", "created_at", "updated_at"]
        read_only_fields = fields
        ref_name = "WWCourier"


class CourierListQuerySerializer(serializers.Serializer):
    is_active = serializers.ChoiceField(choices=["true", "false"], required=False)
    q = serializers.CharField(required=False, max_length=100)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if "is_active" in data:
            data["is_active"] = data["is_active"] == "true"
        return data


# Orders ------------------------------------------------------------------


class OrderLineInputSerializer(StrictSerializer):
    sku = TextField(max_length=64, required_text=True)
    name = TextField(max_length=200, required_text=True)
    qty = StrictIntegerField(min_value=1, max_value=MAX_QTY)
    price = _money()


class OrderInputSerializer(StrictSerializer):
    """``OrderCreate``: 1C's order with its lines; ``total_amount`` defaults to the lines' sum (WW-03)."""

    id = TextField(
        max_length=64,
        required=False,
        validators=[RegexValidator(ORDER_ID_PATTERN, "Use 1–64 of A-Z a-z 0-9 . / - _.")],
        help_text="The 1C order number; generated when absent.",
    )
    title = TextField(max_length=200, required_text=True)
    customer_name = TextField(max_length=200, required_text=True)
    customer_phone = _optional_text(32)
    delivery_address = _optional_text(500)
    order_id_1c = _optional_text(64)
    currency_code = serializers.RegexField(r"^[A-Z]{3}$", required=False, default="RUB")
    total_amount = _money(required=False)
    cod_amount = _money(required=False, allow_null=True)
    notes = _optional_text(NOTES_MAX_LENGTH)
    # many=True hands max_length to the ListSerializer (DRF 3.14+), which the stubs do not know.
    items = OrderLineInputSerializer(many=True, allow_empty=False, max_length=MAX_LINES)  # type: ignore[call-arg]

    class Meta:
        ref_name = "WWOrderCreate"


class OrderUpdateSerializer(StrictSerializer):
    """``OrderUpdate``: while NEW, the title, notes and lines may change; absent fields stay."""

    title = TextField(max_length=200, required_text=True, required=False)
    notes = _optional_text(NOTES_MAX_LENGTH)
    total_amount = _money(required=False)
    items = OrderLineInputSerializer(many=True, allow_empty=False, max_length=MAX_LINES, required=False)  # type: ignore[call-arg]

    class Meta:
        ref_name = "WWOrderUpdate"


class OrderLineSerializer(serializers.ModelSerializer):
    price = _money(read_only=True)

    class Meta:
        model = OrderLine
        fields = ["sku", "name", "qty", "price"]
        read_only_fields = fields


class OrderSerializer(serializers.ModelSerializer):
    """``WWOrder``: what every order read and write answers with."""

    status_code_1c = serializers.CharField(read_only=True, help_text="The status as 1C's KMP4 reads it (WW-07).")
    total_amount = _money(read_only=True)
    cod_amount = _money(read_only=True, allow_null=True)
    paid_amount = _money(read_only=True)
    created_at = RFC3339DateTimeField(read_only=True)
    updated_at = RFC3339DateTimeField(read_only=True)
    items = OrderLineSerializer(source="lines", many=True, read_only=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "title",
            "customer_name",
            "customer_phone",
            "delivery_address",
            "status",
            "status_code_1c",
            "courier_id",
            "task_id_b24",
            "order_id_1c",
            "currency_code",
            "total_amount",
            "cod_amount",
            "paid_amount",
            "notes",
            "created_at",
            "updated_at",
            "items",
        ]
        read_only_fields = fields
        ref_name = "WWOrder"


class OrderListQuerySerializer(serializers.Serializer):
    status = serializers.ListField(
        child=serializers.ChoiceField(choices=OrderStatus.choices, allow_blank=True), required=False
    )
    courier_id = serializers.CharField(required=False, max_length=64)
    q = serializers.CharField(required=False, max_length=100)
    created_from = RFC3339DateTimeField(required=False)
    created_to = RFC3339DateTimeField(required=False)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if "status" in data:  # ``?status=`` is no filter, as an empty list
            data["status"] = [value for value in data["status"] if value]
        return data


class AssignInputSerializer(StrictSerializer):
    courier_id = TextField(max_length=64, required_text=True)
    comment = _optional_text(REASON_MAX_LENGTH)

    class Meta:
        ref_name = "WWAssign"


class AssignmentSerializer(serializers.ModelSerializer):
    created_at = RFC3339DateTimeField(read_only=True)
    updated_at = RFC3339DateTimeField(read_only=True)

    class Meta:
        model = Assignment
        fields = ["id", "order_id", "courier_id", "status", "comment", "reason", "created_at", "updated_at"]
        read_only_fields = fields
        ref_name = "WWAssignment"


class DeclineInputSerializer(StrictSerializer):
    reason = TextField(max_length=REASON_MAX_LENGTH, required_text=True)

    class Meta:
        ref_name = "WWDecline"


class AcceptInputSerializer(StrictSerializer):
    class Meta:
        ref_name = "WWAccept"


class StatusInputSerializer(StrictSerializer):
    status = serializers.ChoiceField(choices=OrderStatus.choices)
    reason = _optional_text(REASON_MAX_LENGTH)
    paid_amount = _money(required=False, help_text="Cash collected; for DONE only (0 when absent).")

    class Meta:
        ref_name = "WWStatusChange"

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if "paid_amount" in data and data["status"] != OrderStatus.DONE:
            raise serializers.ValidationError({"paid_amount": "Only a delivered (DONE) order has a paid amount."})
        return data


class StatusLogSerializer(serializers.ModelSerializer):
    ts = RFC3339DateTimeField(read_only=True)

    class Meta:
        model = OrderStatusLog
        fields = ["from_status", "to_status", "actor", "reason", "request_id", "ts"]
        read_only_fields = fields
        ref_name = "WWStatusLogEntry"


# Stock -------------------------------------------------------------------


class StockSerializer(serializers.ModelSerializer):
    updated_at = RFC3339DateTimeField(read_only=True)

    class Meta:
        model = CourierStock
        fields = ["sku", "qty", "returned_qty", "updated_at"]
        read_only_fields = fields
        ref_name = "WWStock"


class MovementLineInputSerializer(StrictSerializer):
    sku = TextField(max_length=64, required_text=True)
    qty = StrictIntegerField(min_value=1, max_value=MAX_QTY)


class MovementInputSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=StockKind.choices)
    items = MovementLineInputSerializer(  # type: ignore[call-arg]  # max_length: as OrderCreateSerializer.items
        many=True, required=False, allow_empty=False, max_length=MAX_MOVEMENT_LINES
    )
    ref = _optional_text(128)

    class Meta:
        ref_name = "WWMovementCreate"

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if not data.get("items") and data["kind"] != StockKind.UNLOAD:
            raise serializers.ValidationError({"items": "At least one line; only an unload may leave them out."})
        return data


class MovementSerializer(serializers.ModelSerializer):
    ts = RFC3339DateTimeField(read_only=True)

    class Meta:
        model = StockMovement
        fields = ["sku", "qty_delta", "kind", "compartment", "ref", "actor", "ts"]
        read_only_fields = fields
        ref_name = "WWMovement"


# Report and export -------------------------------------------------------


class DeliveryReportQuerySerializer(serializers.Serializer):
    date_from = serializers.DateField(input_formats=["iso-8601"])
    date_to = serializers.DateField(input_formats=["iso-8601"])
    courier_id = serializers.CharField(required=False, max_length=64)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if data["date_to"] < data["date_from"]:
            raise serializers.ValidationError({"date_to": "Must not be before date_from."})
        if (data["date_to"] - data["date_from"]).days > 366:
            raise serializers.ValidationError({"date_to": "A report covers at most 366 days."})
        return data


class Kmp4QuerySerializer(serializers.Serializer):
    updated_since = RFC3339DateTimeField(required=False)
    cursor = serializers.CharField(required=False, max_length=512)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=500, default=100)
