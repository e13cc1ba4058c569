"""``POST /api/v1/call-exports`` and ``GET /api/v1/call-exports/{run_id}`` (EXP-06);
``GET /api/v1/b24-calls/transcripts/search`` (CALL-21)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from calls import services
from calls.api.serializers import (
    CallExportSerializer,
    CallExportStartSerializer,
    TranscriptSearchPageSerializer,
    TranscriptSearchQuerySerializer,
)
from calls.models import CallExport
from calls.selectors import search as search_selectors
from mastermobile.api.audit import InboundAuditMixin
from mastermobile.api.authentication import request_principal
from mastermobile.api.errors import ProblemError
from mastermobile.api.idempotency import IDEMPOTENCY_KEY_PARAMETER, idempotent
from mastermobile.api.permissions import roles_description
from mastermobile.api.schema import NO_NUL_PATTERN, problem_responses

EXPORT_ROLES = {"1c", "admin"}
EXPORT_PERMISSION = "calls.export_callrecord"
SEARCH_ROLES = {"admin"}
# Transcripts are what staff read on the call record's page; the API asks for the same right.
SEARCH_PERMISSION = "calls.view_callrecord"
SEARCH_PARAMETERS = [
    OpenApiParameter(
        "q",
        {"type": "string", "maxLength": search_selectors.SEARCH_MAX_QUERY_LENGTH, "pattern": NO_NUL_PATTERN},
        allow_blank=True,
        description=(
            "Words said in the call, as PostgreSQL's websearch_to_tsquery reads them with the `russian` "
            'configuration: any word form, "a phrase", -excluded, `or`. Blank or missing: no items.'
        ),
    ),
    OpenApiParameter(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": search_selectors.SEARCH_MAX_LIMIT, "default": 20},
        description="Items per page.",
    ),
    OpenApiParameter(
        "offset",
        {"type": "integer", "minimum": 0, "maximum": search_selectors.SEARCH_MAX_OFFSET, "default": 0},
        description="Items to skip.",
    ),
]


def _actor(request: Request):
    """Staff signed in through the session act as themselves; integrations (JWT) start system runs."""
    return getattr(request.user, "staff_user", None)


class CallExportListView(InboundAuditMixin, APIView):
    allowed_roles = {"POST": EXPORT_ROLES}
    staff_permission = EXPORT_PERMISSION

    @extend_schema(
        operation_id="call_exports_start",
        summary="Start a Bitrix24 call export run",
        description=(
            "202 with a new run, or 200 with the active run for the same period. "
            f"{roles_description(allowed_roles, 'POST')} Staff also need the `{EXPORT_PERMISSION}` permission."
        ),
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        request=CallExportStartSerializer,
        responses={
            202: CallExportSerializer,
            200: CallExportSerializer,
            **problem_responses(400, 401, 403, 409, 413, 415, 422),
        },
        tags=["b24-calls"],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        serializer = CallExportStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        options = {"trigger": "api", "dry_run": data["dry_run"], "requested_by": request_principal(request).actor_id}
        if "generate_summary" in data:
            options["generate_summary"] = data["generate_summary"]
        run, created = services.call_export_start(
            period_from=data["period_from"],
            period_to=data["period_to"],
            actor=_actor(request),
            options=options,
        )
        if created:
            services.call_export_enqueue(run)
        body = CallExportSerializer(run).data
        return Response(body, status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK)


class CallExportDetailView(APIView):
    allowed_roles = {"GET": EXPORT_ROLES}
    staff_permission = EXPORT_PERMISSION

    @extend_schema(
        operation_id="call_exports_retrieve",
        summary="Status, counters and progress of a run",
        description=f"{roles_description(allowed_roles, 'GET')} Staff also need the `{EXPORT_PERMISSION}` permission.",
        responses={200: CallExportSerializer, **problem_responses(401, 403, 404)},
        tags=["b24-calls"],
    )
    def get(self, request: Request, run_id: str) -> Response:
        run = CallExport.objects.filter(pk=run_id).select_related("actor").first()
        if run is None:
            raise ProblemError("not-found", f"No call export run {run_id}.")
        return Response(CallExportSerializer(run).data)


class TranscriptSearchView(APIView):
    allowed_roles = {"GET": SEARCH_ROLES}
    staff_permission = SEARCH_PERMISSION

    @extend_schema(
        operation_id="b24_calls_transcripts_search",
        summary="Search call transcripts",
        description=(
            "Full-text search over transcripts (PostgreSQL, `russian`): the newest 10 100 matching calls, best "
            "`ts_rank_cd` first; each item "
            "links to its call record by `record_id` and carries an HTML snippet with the matches in `<mark>`. "
            f"{roles_description(allowed_roles, 'GET')} Staff also need the `{SEARCH_PERMISSION}` permission."
        ),
        parameters=SEARCH_PARAMETERS,
        responses={
            200: TranscriptSearchPageSerializer,
            **problem_responses(
                401, 403, 422, d422="`limit` outside 1…100, `offset` outside 0…10000, or `q` too long or with NUL."
            ),
        },
        tags=["b24-calls"],
    )
    def get(self, request: Request) -> Response:
        params = TranscriptSearchQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        page = search_selectors.transcript_search(
            query=params.validated_data["q"],
            limit=params.validated_data["limit"],
            offset=params.validated_data["offset"],
        )
        return Response(TranscriptSearchPageSerializer(page).data)
