"""``/api/v1/returns`` (RET-10…RET-16): thin views over returns.selectors and returns.services."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mastermobile.api import datetimes
from mastermobile.api.audit import InboundAuditMixin
from mastermobile.api.authentication import Principal, request_principal
from mastermobile.api.idempotency import IDEMPOTENCY_KEY_PARAMETER, REPLAYED_HEADER, idempotent
from mastermobile.api.pagination import PagePagination
from mastermobile.api.permissions import roles_description
from mastermobile.api.schema import NO_NUL_PATTERN, problem_responses
from returns import selectors, services
from returns.api.serializers import (
    ReturnInputSerializer,
    ReturnSerializer,
    ReturnStatusInputSerializer,
    return_body,
)
from returns.filters import ORDERINGS
from returns.models import Return

LIST_ROLES = {"1c", "admin"}
CREATE_ROLES = {"courier", "admin"}
GET_ROLES = {"1c", "courier", "admin"}
REPLACE_ROLES = {"1c", "admin"}
DELETE_ROLES = {"admin"}
STATUS_ROLES = {"1c", "admin"}


RETURN_ID_PARAMETER = OpenApiParameter("return_id", OpenApiTypes.UUID, OpenApiParameter.PATH)
LOCATION_HEADER = OpenApiParameter(
    "Location", OpenApiTypes.STR, OpenApiParameter.HEADER, response=[201], description="/api/v1/returns/{id}"
)
REPLAYED_RESPONSE_HEADER = OpenApiParameter(
    REPLAYED_HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[200, 201, 204],
    description="`true` when this is the stored response of an earlier request with the same Idempotency-Key.",
)
LIST_PARAMETERS = [
    OpenApiParameter(
        "status",
        OpenApiTypes.STR,
        enum=Return.Status.values,
        many=True,
        explode=True,
        description="Repeat for several statuses (`?status=pending&status=accepted`): a return with any of them.",
    ),
    OpenApiParameter("source", OpenApiTypes.STR, enum=Return.Source.values),
    # Django's form field behind the filter refuses NUL (400) and more than 64 characters.
    OpenApiParameter("courier_id", {"type": "string", "maxLength": 64, "pattern": NO_NUL_PATTERN}),
    OpenApiParameter(
        "created_from",
        datetimes.QUERY_SCHEMA,
        description="Inclusive; RFC 3339 with a UTC offset (Z or ±hh:mm, at most ±14:00).",
    ),
    OpenApiParameter(
        "created_to",
        datetimes.QUERY_SCHEMA,
        description="Inclusive; RFC 3339 with a UTC offset (Z or ±hh:mm, at most ±14:00).",
    ),
    OpenApiParameter(
        "updated_since",
        datetimes.QUERY_SCHEMA,
        description=(
            "Inclusive: returns whose updated_at is at or after this instant; RFC 3339 with a UTC offset "
            "(Z or ±hh:mm, at most ±14:00). Without `ordering`, oldest change first (updated_at, then id). "
            "To poll, remember the largest updated_at seen and ask again with it; returns updated exactly "
            "at that instant come again, so skip ids already handled."
        ),
    ),
    OpenApiParameter(
        "ordering",
        OpenApiTypes.STR,
        enum=list(ORDERINGS),
        description="Default -created_at; updated_at when updated_since is given.",
    ),
]
RETURN_PAGE = inline_serializer(
    "ReturnPage",
    {
        "items": ReturnSerializer(many=True),
        "page": serializers.IntegerField(min_value=1),
        "page_size": serializers.IntegerField(min_value=1),
        "total_items": serializers.IntegerField(min_value=0),
        "total_pages": serializers.IntegerField(min_value=0),
        "has_next": serializers.BooleanField(),
    },
)


class ReturnsAPIView(InboundAuditMixin, APIView):
    """Every write leaves one integration-log row (RET-08); domain errors are mapped by the API's handler."""

    allowed_roles: dict[str, set[str]] = {}
    audit_ref_kwarg = "return_id"

    def _principal(self) -> Principal:
        return request_principal(self.request)


def _validated(request: Request) -> dict[str, Any]:
    serializer = ReturnInputSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class ReturnListView(ReturnsAPIView):
    allowed_roles = {"GET": LIST_ROLES, "POST": CREATE_ROLES}
    pagination_class = PagePagination  # documents page and page_size (mastermobile.api.schema)

    @extend_schema(
        operation_id="returns_list",
        summary="List returns",
        description=f"Newest first by default. {roles_description({'GET': LIST_ROLES}, 'GET')}",
        parameters=LIST_PARAMETERS,
        responses={200: RETURN_PAGE, **problem_responses(400, 401, 403)},
        tags=["returns"],
    )
    def get(self, request: Request) -> Response:
        rows = selectors.return_rows(filters=request.query_params)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(rows, request, view=self)
        lines = selectors.return_line_rows(return_ids=[row["return_id"] for row in page])
        items = [return_body(row, lines.get(row["return_id"], ())) for row in page]
        return paginator.get_paginated_response(items)

    @extend_schema(
        operation_id="returns_create",
        summary="Create a return",
        description=(
            "Lines get ids line_1…line_N in request order. A courier may only create returns "
            f"with its own courier_id. {roles_description({'POST': CREATE_ROLES}, 'POST')}"
        ),
        parameters=[IDEMPOTENCY_KEY_PARAMETER, LOCATION_HEADER, REPLAYED_RESPONSE_HEADER],
        request=ReturnInputSerializer,
        responses={201: ReturnSerializer, **problem_responses(400, 401, 403, 409, 413, 415, 422)},
        tags=["returns"],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = _validated(request)
        principal = self._principal()
        if principal.role == "courier" and data["courier_id"] != principal.subject:
            raise exceptions.PermissionDenied("A courier may only create returns with its own courier_id.")
        created = services.return_create(**data, created_by=principal.subject)
        location = reverse("returns-detail", kwargs={"return_id": created.return_id})
        body = ReturnSerializer(created).data  # from memory: the service keeps the lines it wrote
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": location})


class ReturnDetailView(ReturnsAPIView):
    allowed_roles = {"GET": GET_ROLES, "PUT": REPLACE_ROLES, "DELETE": DELETE_ROLES}

    @extend_schema(
        operation_id="returns_retrieve",
        summary="Get a return",
        description=(
            "A courier sees only returns with its own courier_id; others are 404. "
            f"{roles_description({'GET': GET_ROLES}, 'GET')}"
        ),
        parameters=[RETURN_ID_PARAMETER],
        responses={200: ReturnSerializer, **problem_responses(401, 403, 404)},
        tags=["returns"],
    )
    def get(self, request: Request, return_id: str) -> Response:
        principal = self._principal()
        courier_id = principal.subject if principal.role == "courier" else None
        found = selectors.return_get(return_id=return_id, courier_id=courier_id)
        return Response(ReturnSerializer(found).data)

    @extend_schema(
        operation_id="returns_replace",
        summary="Replace a pending return",
        description=(
            "Replaces header fields and all lines (new line ids) in one transaction; 409 unless pending. "
            f"{roles_description({'PUT': REPLACE_ROLES}, 'PUT')}"
        ),
        parameters=[RETURN_ID_PARAMETER, IDEMPOTENCY_KEY_PARAMETER, REPLAYED_RESPONSE_HEADER],
        request=ReturnInputSerializer,
        responses={200: ReturnSerializer, **problem_responses(400, 401, 403, 404, 409, 413, 415, 422)},
        tags=["returns"],
    )
    @idempotent
    def put(self, request: Request, return_id: str) -> Response:
        selectors.return_get(return_id=return_id)  # 404 before validating the body
        data = _validated(request)
        replaced = services.return_replace(return_id=return_id, **data, actor=self._principal().actor_id)
        return Response(ReturnSerializer(replaced).data)

    @extend_schema(
        operation_id="returns_cancel",
        summary="Cancel a return",
        description=(
            "Logical delete: the status becomes cancelled, the return and its lines stay. "
            "Cancelling a cancelled return is 204 again; a rejected return is 409. "
            f"{roles_description({'DELETE': DELETE_ROLES}, 'DELETE')}"
        ),
        parameters=[RETURN_ID_PARAMETER, IDEMPOTENCY_KEY_PARAMETER, REPLAYED_RESPONSE_HEADER],
        request=None,
        responses={204: None, **problem_responses(400, 401, 403, 404, 409)},
        tags=["returns"],
    )
    @idempotent
    def delete(self, request: Request, return_id: str) -> Response:
        services.return_cancel(return_id=return_id, actor=self._principal().actor_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReturnStatusView(ReturnsAPIView):
    allowed_roles = {"PATCH": STATUS_ROLES}

    @extend_schema(
        operation_id="returns_set_status",
        summary="Change the status of a return",
        description=(
            "Moves the return to accepted, rejected or cancelled as the transition table allows "
            "(pending → accepted | rejected | cancelled, accepted → cancelled); any other move is 409 "
            "naming both statuses. Asking for the status the return already has changes nothing and "
            "answers 200 with the return. The reason is kept in the return's history. "
            f"{roles_description({'PATCH': STATUS_ROLES}, 'PATCH')}"
        ),
        parameters=[RETURN_ID_PARAMETER, IDEMPOTENCY_KEY_PARAMETER, REPLAYED_RESPONSE_HEADER],
        request=ReturnStatusInputSerializer,
        responses={200: ReturnSerializer, **problem_responses(400, 401, 403, 404, 409, 413, 415, 422)},
        tags=["returns"],
    )
    @idempotent
    def patch(self, request: Request, return_id: str) -> Response:
        selectors.return_get(return_id=return_id)  # 404 before validating the body
        serializer = ReturnStatusInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        changed = services.return_set_status(
            return_id=return_id, **serializer.validated_data, actor=self._principal().actor_id
        )
        return Response(ReturnSerializer(changed).data)
