"""``/api/v1/ww/…`` (spec 04 §3): thin views over couriers.selectors and couriers.services.

A courier (role ``courier``, subject = its courier id) sees and acts on its own
orders, assignments and stock only; another courier's are answered 404, as if
they did not exist.  Every write is audited (``InboundAuditMixin``); writes the
spec lists with ``Idempotency-Key`` go through ``@idempotent``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from couriers import selectors, services
from couriers.api import serializers as io
from couriers.exceptions import CourierNotFound, OrderNotFound
from couriers.models import ORDER_ID_PATTERN, OrderStatus
from mastermobile.api import datetimes
from mastermobile.api.audit import InboundAuditMixin
from mastermobile.api.authentication import Principal, request_principal
from mastermobile.api.errors import BadQueryParameter
from mastermobile.api.idempotency import IDEMPOTENCY_KEY_PARAMETER, REPLAYED_HEADER, idempotent
from mastermobile.api.pagination import PagePagination
from mastermobile.api.permissions import roles_description
from mastermobile.api.schema import problem_responses
from returns.models import COURIER_ID_PATTERN

MANAGERS = {"admin", "1c"}
EVERYONE = {"admin", "1c", "courier"}
TAG = ["walking-warehouse"]

ORDER_ID = OpenApiParameter("order_id", OpenApiTypes.STR, OpenApiParameter.PATH)
COURIER_ID = OpenApiParameter("courier_id", OpenApiTypes.STR, OpenApiParameter.PATH)
ASSIGNMENT_ID = OpenApiParameter("assignment_id", OpenApiTypes.UUID, OpenApiParameter.PATH)
REPLAYED = OpenApiParameter(
    REPLAYED_HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[200, 201],
    description="`true` when this is the stored response of an earlier request with the same Idempotency-Key.",
)
WRITE_PARAMETERS = [IDEMPOTENCY_KEY_PARAMETER, REPLAYED]
DATE_TIME_PARAMETER = "Inclusive; RFC 3339 with a UTC offset (Z or ±hh:mm, at most ±14:00)."
# Path ids no row can have (the models' check constraints hold these patterns) name nothing: 404 before any
# query.  Asking the database instead is not harmless: PostgreSQL refuses a NUL character in a text
# parameter outright (DataError, a 500), where SQLite finds no row.
PATH_IDS: dict[str, tuple[re.Pattern[str], Callable[[str], Exception]]] = {
    "order_id": (re.compile(ORDER_ID_PATTERN), OrderNotFound),
    "courier_id": (re.compile(COURIER_ID_PATTERN), CourierNotFound),
}


def page_of(name: str, item: serializers.Serializer) -> serializers.Serializer:
    return inline_serializer(
        name,
        {
            "items": item,
            "page": serializers.IntegerField(min_value=1),
            "page_size": serializers.IntegerField(min_value=1),
            "total_items": serializers.IntegerField(min_value=0),
            "total_pages": serializers.IntegerField(min_value=0),
            "has_next": serializers.BooleanField(),
        },
    )


def query(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    """Validated query parameters; the first bad one is a 400 naming it, as for every list of this API."""
    checked = serializer_class(data=request.query_params)
    if not checked.is_valid():
        name, messages = next(iter(checked.errors.items()))
        message = messages[0] if isinstance(messages, list) else next(iter(messages.values()))[0]
        raise BadQueryParameter(name, str(message))
    return checked.validated_data


def body(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    checked = serializer_class(data=request.data)
    checked.is_valid(raise_exception=True)
    return checked.validated_data


class WarehouseView(InboundAuditMixin, APIView):
    allowed_roles: dict[str, set[str]] = {}

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # authentication and the role check answer first
        for name, (pattern, not_found) in PATH_IDS.items():
            if name in kwargs and not pattern.fullmatch(kwargs[name]):
                raise not_found(kwargs[name])

    @property
    def principal(self) -> Principal:
        return request_principal(self.request)

    @property
    def actor(self) -> services.Actor:
        return services.Actor(role=self.principal.role, subject=self.principal.subject)

    @property
    def own_courier(self) -> str | None:
        """The courier id a courier is limited to; None for managers."""
        return self.principal.subject if self.principal.role == "courier" else None


# Couriers ----------------------------------------------------------------


class CourierListView(WarehouseView):
    allowed_roles = {"GET": MANAGERS, "POST": MANAGERS}
    pagination_class = PagePagination

    @extend_schema(
        operation_id="ww_couriers_list",
        summary="List couriers",
        description=roles_description(allowed_roles, "GET"),
        parameters=[
            OpenApiParameter("is_active", OpenApiTypes.BOOL),
            OpenApiParameter("q", {"type": "string", "maxLength": 100}, description="Part of the id, name or phone."),
        ],
        responses={200: page_of("WWCourierPage", io.CourierSerializer(many=True)), **problem_responses(400, 401, 403)},
        tags=TAG,
    )
    def get(self, request: Request) -> Response:
        filters = query(io.CourierListQuerySerializer, request)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.courier_list(**filters), request, view=self)
        return paginator.get_paginated_response(io.CourierSerializer(page, many=True).data)

    @extend_schema(
        operation_id="ww_couriers_create",
        summary="Create a courier",
        description=f"A courier id that exists is 409. {roles_description(allowed_roles, 'POST')}",
        request=io.CourierInputSerializer,
        responses={201: io.CourierSerializer, **problem_responses(400, 401, 403, 409, 413, 415, 422)},
        tags=TAG,
    )
    def post(self, request: Request) -> Response:
        courier = services.courier_create(**body(io.CourierInputSerializer, request))
        return Response(io.CourierSerializer(courier).data, status=status.HTTP_201_CREATED)

    def _resource_ref(self, data: Any) -> str | None:
        return data.get("courier_id") if isinstance(data, dict) and "type" not in data else None


class CourierStockView(WarehouseView):
    allowed_roles = {"GET": EVERYONE}
    audit_ref_kwarg = "courier_id"

    @extend_schema(
        operation_id="ww_courier_stock",
        summary="A courier's backpack",
        description=(
            "What the courier holds: `qty` in the backpack for sale, `returned_qty` in the returns compartment. "
            f"A courier sees only its own. {roles_description(allowed_roles, 'GET')}"
        ),
        parameters=[COURIER_ID],
        responses={200: io.StockSerializer(many=True), **problem_responses(401, 403, 404)},
        tags=TAG,
    )
    def get(self, request: Request, courier_id: str) -> Response:
        if self.own_courier not in (None, courier_id):
            raise exceptions.NotFound(f"Courier {courier_id} does not exist.")
        return Response(io.StockSerializer(selectors.courier_stock(courier_id=courier_id), many=True).data)


class StockMovementView(WarehouseView):
    allowed_roles = {"POST": EVERYONE}
    audit_ref_kwarg = "courier_id"
    KINDS_BY_ROLE = {"admin": {"load", "unload"}, "1c": {"load", "unload"}, "courier": {"sale", "return_in"}}

    @extend_schema(
        operation_id="ww_stock_move",
        summary="Move stock into or out of a backpack",
        description=(
            "`load` and `unload` are the base's (admin, 1c); `sale` and `return_in` the courier's own. "
            "One movement per SKU, all or nothing. A sale or unload of more than the courier holds is 409 and "
            "changes nothing, as is a `load` or `return_in` that would leave more than 1 000 000 000 of one SKU "
            "in a compartment. An `unload` without `items` takes back everything the courier holds (end of shift, "
            f"WW-12). {roles_description(allowed_roles, 'POST')}"
        ),
        parameters=[COURIER_ID, *WRITE_PARAMETERS],
        request=io.MovementInputSerializer,
        responses={
            201: io.MovementSerializer(many=True),
            **problem_responses(400, 401, 403, 404, 409, 413, 415, 422),
        },
        tags=TAG,
    )
    @idempotent
    def post(self, request: Request, courier_id: str) -> Response:
        if self.own_courier not in (None, courier_id):
            raise exceptions.NotFound(f"Courier {courier_id} does not exist.")
        data = body(io.MovementInputSerializer, request)
        if data["kind"] not in self.KINDS_BY_ROLE[self.principal.role]:
            raise exceptions.PermissionDenied(f"The {self.principal.role} role may not record a {data['kind']}.")
        movements = services.stock_move(courier_id=courier_id, actor=self.actor, **data)
        return Response(io.MovementSerializer(movements, many=True).data, status=status.HTTP_201_CREATED)


# Orders ------------------------------------------------------------------


class OrderListView(WarehouseView):
    allowed_roles = {"GET": EVERYONE, "POST": MANAGERS}
    pagination_class = PagePagination

    @extend_schema(
        operation_id="ww_orders_list",
        summary="List orders",
        description=f"Newest first; a courier sees its own. {roles_description(allowed_roles, 'GET')}",
        parameters=[
            OpenApiParameter(
                "status",
                {"type": "array", "items": {"type": "string", "enum": OrderStatus.values}},
                explode=True,
                description="Repeat for several: `?status=NEW&status=ASSIGNED`.",
            ),
            OpenApiParameter("courier_id", {"type": "string", "maxLength": 64}),
            OpenApiParameter(
                "q", {"type": "string", "maxLength": 100}, description="Part of the id, title or customer."
            ),
            OpenApiParameter("created_from", datetimes.QUERY_SCHEMA, description=DATE_TIME_PARAMETER),
            OpenApiParameter("created_to", datetimes.QUERY_SCHEMA, description=DATE_TIME_PARAMETER),
        ],
        responses={200: page_of("WWOrderPage", io.OrderSerializer(many=True)), **problem_responses(400, 401, 403)},
        tags=TAG,
    )
    def get(self, request: Request) -> Response:
        filters = query(io.OrderListQuerySerializer, request)
        if "status" in filters:
            filters["statuses"] = filters.pop("status")
        if self.own_courier is not None:
            filters["courier_id"] = self.own_courier
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.order_list(**filters), request, view=self)
        return paginator.get_paginated_response(io.OrderSerializer(page, many=True).data)

    @extend_schema(
        operation_id="ww_orders_create",
        summary="Create an order",
        description=(
            "A NEW order with its lines; an `id` that exists is 409. `total_amount` defaults to the sum of "
            f"qty × price and may not be below it. {roles_description(allowed_roles, 'POST')}"
        ),
        parameters=WRITE_PARAMETERS,
        request=io.OrderInputSerializer,
        responses={201: io.OrderSerializer, **problem_responses(400, 401, 403, 409, 413, 415, 422)},
        tags=TAG,
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = body(io.OrderInputSerializer, request)
        order = services.order_create(lines=data.pop("items"), actor=self.actor, **data)
        location = reverse("ww-order-detail", kwargs={"order_id": order.id})
        return Response(io.OrderSerializer(order).data, status=status.HTTP_201_CREATED, headers={"Location": location})


class OrderDetailView(WarehouseView):
    allowed_roles = {"GET": EVERYONE, "PATCH": MANAGERS}
    audit_ref_kwarg = "order_id"

    @extend_schema(
        operation_id="ww_orders_retrieve",
        summary="Get an order",
        description=f"A courier sees only its own. {roles_description(allowed_roles, 'GET')}",
        parameters=[ORDER_ID],
        responses={200: io.OrderSerializer, **problem_responses(401, 403, 404)},
        tags=TAG,
    )
    def get(self, request: Request, order_id: str) -> Response:
        return Response(io.OrderSerializer(selectors.order_get(order_id=order_id, courier_id=self.own_courier)).data)

    @extend_schema(
        operation_id="ww_orders_update",
        summary="Edit a NEW order",
        description=(
            "Title, notes and the lines as a whole; 409 once the order is assigned. "
            f"{roles_description(allowed_roles, 'PATCH')}"
        ),
        parameters=[ORDER_ID],
        request=io.OrderUpdateSerializer,
        responses={200: io.OrderSerializer, **problem_responses(400, 401, 403, 404, 409, 413, 415, 422)},
        tags=TAG,
    )
    def patch(self, request: Request, order_id: str) -> Response:
        data = body(io.OrderUpdateSerializer, request)
        if "items" in data:
            data["lines"] = data.pop("items")
        order = services.order_update(order_id=order_id, actor=self.actor, **data)
        return Response(io.OrderSerializer(order).data)


class OrderAssignView(WarehouseView):
    allowed_roles = {"POST": MANAGERS}
    audit_ref_kwarg = "order_id"

    @extend_schema(
        operation_id="ww_orders_assign",
        summary="Hand an order to a courier",
        description=(
            "NEW → ASSIGNED with a PENDING assignment; the courier's Bitrix24 task follows from the outbox. "
            f"Another status is 422. {roles_description(allowed_roles, 'POST')}"
        ),
        parameters=[ORDER_ID, *WRITE_PARAMETERS],
        request=io.AssignInputSerializer,
        responses={201: io.AssignmentSerializer, **problem_responses(400, 401, 403, 404, 409, 413, 415, 422)},
        tags=TAG,
    )
    @idempotent
    def post(self, request: Request, order_id: str) -> Response:
        data = body(io.AssignInputSerializer, request)
        assignment = services.order_assign(order_id=order_id, actor=self.actor, **data)
        return Response(io.AssignmentSerializer(assignment).data, status=status.HTTP_201_CREATED)


class OrderStatusView(WarehouseView):
    allowed_roles = {"PATCH": EVERYONE}
    audit_ref_kwarg = "order_id"

    @extend_schema(
        operation_id="ww_orders_status",
        summary="Change an order's status",
        description=(
            "WW-04. admin and 1c: `REJECTED` (from NEW, ASSIGNED, IN_TRANSIT) and `NEW` (a DECLINED order back to "
            "the pool). The assigned courier: `IN_TRANSIT` (from ASSIGNED; accepts a pending assignment), `DONE` "
            "(from IN_TRANSIT, with `paid_amount`) and `DECLINED` (with `reason`). A move the table forbids is 422 "
            "`invalid-transition` naming both statuses; a target the role may not ask for is 403; nothing changes. "
            f"{roles_description(allowed_roles, 'PATCH')}"
        ),
        parameters=[ORDER_ID, *WRITE_PARAMETERS],
        request=io.StatusInputSerializer,
        responses={200: io.OrderSerializer, **problem_responses(400, 401, 403, 404, 409, 413, 415, 422)},
        tags=TAG,
    )
    @idempotent
    def patch(self, request: Request, order_id: str) -> Response:
        data = body(io.StatusInputSerializer, request)
        order = services.order_change_status(order_id=order_id, actor=self.actor, **data)
        return Response(io.OrderSerializer(order).data)  # the service read the lines with the locked order


class OrderLogView(WarehouseView):
    allowed_roles = {"GET": EVERYONE}

    @extend_schema(
        operation_id="ww_orders_log",
        summary="An order's status log",
        description=f"Oldest first, from creation (WW-05). {roles_description(allowed_roles, 'GET')}",
        parameters=[ORDER_ID],
        responses={200: io.StatusLogSerializer(many=True), **problem_responses(401, 403, 404)},
        tags=TAG,
    )
    def get(self, request: Request, order_id: str) -> Response:
        log = selectors.order_status_log(order_id=order_id, courier_id=self.own_courier)
        return Response(io.StatusLogSerializer(log, many=True).data)


class AssignmentAcceptView(WarehouseView):
    allowed_roles = {"POST": {"courier"}}
    audit_ref_kwarg = "assignment_id"

    @extend_schema(
        operation_id="ww_assignments_accept",
        summary="Accept an assignment",
        description=(
            "The order stays ASSIGNED until the courier starts it. Accepting twice is 200 again; a declined or "
            f"closed assignment is 409. {roles_description(allowed_roles, 'POST')}"
        ),
        parameters=[ASSIGNMENT_ID],
        request=io.AcceptInputSerializer,
        responses={200: io.AssignmentSerializer, **problem_responses(400, 401, 403, 404, 409, 413, 415, 422)},
        tags=TAG,
    )
    def post(self, request: Request, assignment_id: str) -> Response:
        body(io.AcceptInputSerializer, request)
        assignment = services.assignment_accept(assignment_id=assignment_id, actor=self.actor)
        return Response(io.AssignmentSerializer(assignment).data)


class AssignmentDeclineView(WarehouseView):
    allowed_roles = {"POST": {"courier"}}
    audit_ref_kwarg = "assignment_id"

    @extend_schema(
        operation_id="ww_assignments_decline",
        summary="Decline an assignment",
        description=(
            "The assignment becomes DECLINED and the order DECLINED, for a manager to put back in the pool. "
            f"{roles_description(allowed_roles, 'POST')}"
        ),
        parameters=[ASSIGNMENT_ID],
        request=io.DeclineInputSerializer,
        responses={200: io.AssignmentSerializer, **problem_responses(400, 401, 403, 404, 409, 413, 415, 422)},
        tags=TAG,
    )
    def post(self, request: Request, assignment_id: str) -> Response:
        data = body(io.DeclineInputSerializer, request)
        assignment = services.assignment_decline(assignment_id=assignment_id, actor=self.actor, **data)
        return Response(io.AssignmentSerializer(assignment).data)
