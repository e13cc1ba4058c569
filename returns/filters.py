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


class ChoicesField(django_filters.fields.MultipleChoiceField):
    """Repeated choices; an empty one (``status=``) is ignored, as an empty single-value filter is."""

    def to_python(self, value: object) -> list[str]:
        return [item for item in super().to_python(value) if item != ""]


class ChoicesFilter(django_filters.MultipleChoiceFilter):
    field_class = ChoicesField


class ReturnFilter(django_filters.FilterSet):
    """``status`` may repeat (``?status=pending&status=accepted``: either); the other filters are combined with AND.

    ``updated_since`` is 1C's polling filter (C1-02): returns changed at or after the
    instant, oldest change first unless ``ordering`` says otherwise, so that a poller
    paging through the result misses no row.
    """

    status = ChoicesFilter(choices=Return.Status.choices, distinct=False)
    source = django_filters.ChoiceFilter(choices=Return.Source.choices)
    courier_id = django_filters.CharFilter(max_length=64)
    created_from = OffsetDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_to = OffsetDateTimeFilter(field_name="created_at", lookup_expr="lte")
    updated_since = OffsetDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    ordering = django_filters.ChoiceFilter(choices=[(value, value) for value in ORDERINGS], method="order")

    class Meta:
        model = Return
        fields: list[str] = []

    def filter_queryset(self, queryset: QuerySet[Return]) -> QuerySet[Return]:
        queryset = super().filter_queryset(queryset)
        if self.form.cleaned_data.get("updated_since") is not None and not self.form.cleaned_data.get("ordering"):
            queryset = queryset.order_by("updated_at", "return_id")
        return queryset

    def order(self, queryset: QuerySet[Return], name: str, value: str) -> QuerySet[Return]:
        # The primary key breaks ties so that pages never overlap.
        tiebreak = "-return_id" if value.startswith("-") else "return_id"
        return queryset.order_by(value, tiebreak)
