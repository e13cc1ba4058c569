"""``GET /api/v1/ww/report/deliveries`` (JSON or CSV) and ``GET /api/v1/ww/export/kmp4`` for 1C."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import renderers, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from couriers import selectors
from couriers.api.serializers import DeliveryReportQuerySerializer, Kmp4QuerySerializer
from couriers.api.views import MANAGERS, TAG, WarehouseView, query
from couriers.exports import delivery_csv, report_item
from couriers.models import KMP4_STATUS_CODES
from mastermobile.api import datetimes
from mastermobile.api.permissions import roles_description
from mastermobile.api.schema import problem_responses


class DeliveryCSVRenderer(renderers.BaseRenderer):
    """The report as a spreadsheet opens it: UTF-8 with a BOM, ``;``, CRLF; a problem stays JSON."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        if not isinstance(data, dict) or "items" not in data:
            return renderers.JSONRenderer().render(data)
        return delivery_csv(data["items"])


DELIVERY_ROW = inline_serializer(
    "WWDeliveryRow",
    many=True,
    fields={
        "day": serializers.DateField(),
        "courier_id": serializers.CharField(),
        "courier_name": serializers.CharField(),
        "orders": serializers.IntegerField(min_value=0),
        "by_status": serializers.DictField(child=serializers.IntegerField(min_value=0)),
        "total_amount": serializers.DecimalField(max_digits=14, decimal_places=2),
        "delivered_amount": serializers.DecimalField(max_digits=14, decimal_places=2),
        "cash_collected": serializers.DecimalField(max_digits=14, decimal_places=2),
        "avg_delivery_minutes": serializers.FloatField(allow_null=True),
    },
)


class DeliveryReportView(WarehouseView):
    allowed_roles = {"GET": MANAGERS}

    def get_renderers(self) -> list[renderers.BaseRenderer]:
        return [*super().get_renderers(), DeliveryCSVRenderer()]

    @extend_schema(
        operation_id="ww_report_deliveries",
        summary="Deliveries per courier and day",
        description=(
            "Orders handed to couriers, by the courier and the local day (TIME_ZONE) they were created: counts by "
            "status, amounts, the cash collected on delivered orders (C1-05) and the average time from start "
            "(IN_TRANSIT) to DONE. `?format=csv` (or `Accept: text/csv`) gives a spreadsheet. "
            f"{roles_description(allowed_roles, 'GET')}"
        ),
        parameters=[
            OpenApiParameter("date_from", OpenApiTypes.DATE, required=True, description="Inclusive."),
            OpenApiParameter("date_to", OpenApiTypes.DATE, required=True, description="Inclusive; ≤ 366 days on."),
            OpenApiParameter("courier_id", {"type": "string", "maxLength": 64}),
            OpenApiParameter("format", exclude=True),
        ],
        responses={
            200: inline_serializer("WWDeliveryReport", {"items": DELIVERY_ROW}),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The same rows, header first."),
            **problem_responses(400, 401, 403),
        },
        tags=TAG,
    )
    def get(self, request: Request) -> Response:
        filters = query(DeliveryReportQuerySerializer, request)
        rows = selectors.delivery_report(**filters)
        response = Response({"items": [report_item(row) for row in rows]})
        if getattr(request.accepted_renderer, "format", None) == "csv":
            name = f"deliveries-{filters['date_from']:%Y%m%d}-{filters['date_to']:%Y%m%d}.csv"
            response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


KMP4_ITEM = inline_serializer(
    "KMP4Order",
    many=True,
    fields={
        "order_id": serializers.CharField(),
        "order_id_1c": serializers.CharField(allow_null=True),
        "title": serializers.CharField(),
        "customer_name": serializers.CharField(),
        "status_code": serializers.ChoiceField(choices=sorted(set(KMP4_STATUS_CODES.values()))),
        "total_amount": serializers.DecimalField(max_digits=12, decimal_places=2),
        "paid_amount": serializers.DecimalField(max_digits=12, decimal_places=2),
        "currency_code": serializers.CharField(),
        "courier_id": serializers.CharField(allow_null=True),
        "notes": serializers.CharField(allow_null=True),
        "created_at": serializers.DateTimeField(),
        "updated_at": serializers.DateTimeField(),
        "items": inline_serializer(
            "KMP4Item",
            {
                "sku": serializers.CharField(),
                "name": serializers.CharField(),
                "qty": serializers.IntegerField(),
                "price": serializers.DecimalField(max_digits=12, decimal_places=2),
            },
            many=True,
        ),
    },
)


class Kmp4ExportView(WarehouseView):
    allowed_roles = {"GET": {"1c"}}

    @extend_schema(
        operation_id="ww_export_kmp4",
        summary="Orders changed since the last poll, for 1C (KMP4)",
        description=(
            "Oldest change first. Start with `updated_since` (or nothing, for everything), then pass the "
            "`next_cursor` of each answer as `cursor`; keep the last one and poll again with it. An order changed "
            "again after you read it comes again with its new state; none is skipped or repeated otherwise. "
            f"Changes younger than {selectors.KMP4_SETTLE.seconds} s wait for the next poll. Status codes: WW-07. "
            f"{roles_description(allowed_roles, 'GET')}"
        ),
        parameters=[
            OpenApiParameter(
                "updated_since",
                datetimes.QUERY_SCHEMA,
                description="Inclusive; RFC 3339 with a UTC offset (Z or ±hh:mm, at most ±14:00); ignored with `cursor`.",
            ),
            OpenApiParameter("cursor", {"type": "string", "maxLength": 512}),
            OpenApiParameter("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}),
        ],
        responses={
            200: inline_serializer(
                "KMP4Page",
                {
                    "items": KMP4_ITEM,
                    "next_cursor": serializers.CharField(allow_null=True),
                    "has_more": serializers.BooleanField(),
                },
            ),
            **problem_responses(400, 401, 403),
        },
        tags=TAG,
    )
    def get(self, request: Request) -> Response:
        page = selectors.kmp4_page(**query(Kmp4QuerySerializer, request))
        return Response(
            {
                "items": [selectors.kmp4_item(order) for order in page.orders],
                "next_cursor": page.next_cursor,
                "has_more": page.has_more,
            }
        )
