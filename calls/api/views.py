"""``POST /api/v1/call-exports`` and ``GET /api/v1/call-exports/{run_id}`` (EXP-06)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from calls import services
from calls.api.serializers import CallExportSerializer, CallExportStartSerializer
from calls.models import CallExport
from mastermobile.api.errors import ProblemError
from mastermobile.api.idempotency import IDEMPOTENCY_KEY_PARAMETER, idempotent
from mastermobile.api.permissions import roles_description
from mastermobile.api.schema import problem_responses

EXPORT_ROLES = {"1c", "admin"}
EXPORT_PERMISSION = "calls.export_callrecord"


def _actor(request: Request):
    """Staff signed in through the session act as themselves; integrations (JWT) start system runs."""
    return getattr(request.user, "staff_user", None)


class CallExportListView(APIView):
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
        options = {"trigger": "api", "dry_run": data["dry_run"], "requested_by": request.user.actor_id}
        if "generate_summary" in data:
            options["generate_summary"] = data["generate_summary"]
        try:
            run, created = services.call_export_start(
                period_from=data["period_from"],
                period_to=data["period_to"],
                actor=_actor(request),
                options=options,
            )
        except services.CallExportError as error:
            raise ProblemError("bad-request", str(error)) from None
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
