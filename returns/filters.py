"""Query-string filters of the returns list (RET-10)."""

from __future__ import annotations

from datetime import datetime

import django_filters
from django import forms
from django.db.models import QuerySet

from mastermobile.api.datetimes import parse_rfc3339
from returns.models import Return

ORDERINGS = ("created_at", "-created_at", "updated_at", "-updated_at")


class OffsetDateTimeField(forms.Field):
    """An RFC 3339 date-time with a UTC offset (``Z`` or ``+03:00``), as a UTC datetime.

    A ``+`` left unencoded in a query string arrives as a space; it is read
    back as ``+`` so ``created_from=2024-05-01T10:00:00+03:00`` works either way.
    Offsets beyond ±14:00 and instants without a UTC value are refused
    (:func:`mastermobile.api.datetimes.parse_rfc3339`).
    """

    def to_python(self, value: str | None) -> datetime | None:
        if value in (None, ""):
            return None
        try:
            return parse_rfc3339(value.strip().replace(" ", "+"))
        except ValueError as error:
            raise forms.ValidationError(str(error), code="invalid") from None


class OffsetDateTimeFilter(django_filters.Filter):
    field_class = OffsetDateTimeField


class ReturnFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Return.Status.choices)
    source = django_filters.ChoiceFilter(choices=Return.Source.choices)
    courier_id = django_filters.CharFilter(max_length=64)
    created_from = OffsetDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_to = OffsetDateTimeFilter(field_name="created_at", lookup_expr="lte")
    ordering = django_filters.ChoiceFilter(choices=[(value, value) for value in ORDERINGS], method="order")

    class Meta:
        model = Return
        fields: list[str] = []

    def order(self, queryset: QuerySet[Return], name: str, value: str) -> QuerySet[Return]:
        # The primary key breaks ties so that pages never overlap.
        tiebreak = "-return_id" if value.startswith("-") else "return_id"
        return queryset.order_by(value, tiebreak)
