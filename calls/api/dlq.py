"""The transcription dead-letter queue over the API (EXP-06, STT-07): list entries, requeue one.

An entry is a ``TranscriptionJob`` in ``dead_letter``; its id is the ``entry_id``.
Admin role only; staff through the session also need ``calls.change_transcriptionjob``.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from calls import dead_letters
from calls.models import TranscriptionJob, TranscriptionJobStatus
from calls.tasks import dispatch_transcriptions
from mastermobile.api.audit import InboundAuditMixin
from mastermobile.api.authentication import request_principal
from mastermobile.api.errors import ProblemError
from mastermobile.api.pagination import PagePagination
from mastermobile.api.permissions import roles_description
from mastermobile.api.schema import problem_responses
from mastermobile.api.serializers import StrictSerializer
from mastermobile.observability.context import current_request_id
from mastermobile.observability.logging import masked_url

DLQ_ROLES = {"admin"}
DLQ_PERMISSION = "calls.change_transcriptionjob"
ENTRY_ID_PARAMETER = OpenApiParameter("entry_id", OpenApiTypes.UUID, OpenApiParameter.PATH)


class MaskedURLField(serializers.CharField):
    """A URL as the API shows it: credentials in it (a recording's ``auth=`` access key) as ``***``."""

    def to_representation(self, value):
        return masked_url(super().to_representation(value))


class DeadLetterJobSerializer(serializers.Serializer):
    """STT-07: the job payload of an entry."""

    record_id = serializers.IntegerField(source="call_record_id", allow_null=True)
    call_id = serializers.CharField()
    recording_url = MaskedURLField(allow_blank=True)
    engine = serializers.CharField()
    language = serializers.CharField(allow_blank=True)


class DeadLetterSerializer(serializers.Serializer):
    entry_id = serializers.UUIDField(source="id")
    job = DeadLetterJobSerializer(source="*")
    reason = serializers.CharField(source="dlq_reason")
    error_code = serializers.CharField(source="last_error_code")
    status_code = serializers.IntegerField(source="last_status_code", allow_null=True)
    attempts = serializers.IntegerField()
    failed_at = serializers.DateTimeField(allow_null=True)


class RequeueSerializer(StrictSerializer):
    reason = serializers.CharField(
        required=False, max_length=200, default="manual_requeue", help_text="Why; kept in the job's history."
    )


DLQ_PAGE = inline_serializer(
    "DeadLetterPage",
    {
        "items": DeadLetterSerializer(many=True),
        "page": serializers.IntegerField(min_value=1),
        "page_size": serializers.IntegerField(min_value=1),
        "total_items": serializers.IntegerField(min_value=0),
        "total_pages": serializers.IntegerField(min_value=0),
        "has_next": serializers.BooleanField(),
    },
)
REQUEUED = inline_serializer(
    "DeadLetterRequeued",
    {
        "status": serializers.ChoiceField(choices=["requeued"]),
        "entry_id": serializers.UUIDField(),
        "job": DeadLetterJobSerializer(),
        "reason": serializers.CharField(),
        "failed_at": serializers.DateTimeField(allow_null=True),
        "status_code": serializers.IntegerField(allow_null=True),
    },
)


def _dead_letters():
    return TranscriptionJob.objects.filter(status=TranscriptionJobStatus.DEAD_LETTER).order_by("-failed_at", "id")


class DeadLetterListView(APIView):
    allowed_roles = {"GET": DLQ_ROLES}
    staff_permission = DLQ_PERMISSION
    pagination_class = PagePagination

    @extend_schema(
        operation_id="stt_dlq_list",
        summary="Transcription dead-letter entries, newest first",
        description=f"{roles_description(allowed_roles, 'GET')} Staff also need `{DLQ_PERMISSION}`.",
        responses={200: DLQ_PAGE, **problem_responses(400, 401, 403)},
        tags=["b24-calls"],
    )
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(_dead_letters(), request, view=self)
        return paginator.get_paginated_response(DeadLetterSerializer(page, many=True).data)


class DeadLetterRequeueView(InboundAuditMixin, APIView):
    allowed_roles = {"POST": DLQ_ROLES}
    staff_permission = DLQ_PERMISSION
    audit_ref_kwarg = "entry_id"

    @extend_schema(
        operation_id="stt_dlq_requeue",
        summary="Requeue a dead-lettered transcription",
        description=(
            "The job goes back to `queued` and its record to `downloaded` with the error cleared; "
            "who, when, why and the request id are kept in the job's history (STT-07). "
            f"{roles_description(allowed_roles, 'POST')} Staff also need `{DLQ_PERMISSION}`."
        ),
        parameters=[ENTRY_ID_PARAMETER],
        request=RequeueSerializer,
        responses={200: REQUEUED, **problem_responses(401, 403, 404, 413, 415, 422)},
        tags=["b24-calls"],
    )
    def post(self, request: Request, entry_id: str) -> Response:
        serializer = RequeueSerializer(data=request.data or {})
        serializer.is_valid(raise_exception=True)
        entry = _dead_letters().filter(pk=entry_id).first()
        if entry is None:
            raise ProblemError("not-found", "DLQ entry not found")
        principal = request_principal(request)
        try:
            dead_letters.job_requeue(
                entry.pk,
                actor=principal.staff_user or principal.actor_id,
                reason=serializer.validated_data["reason"],
                request_id=current_request_id(),
            )
        except dead_letters.JobNotRequeueable:
            # Requeued by someone else between the read and the lock.
            raise ProblemError("not-found", "DLQ entry not found") from None
        dispatch_transcriptions()
        return Response(
            {
                "status": "requeued",
                "entry_id": str(entry.pk),
                "job": DeadLetterJobSerializer(entry).data,
                "reason": entry.dlq_reason,
                "failed_at": serializers.DateTimeField().to_representation(entry.failed_at)
                if entry.failed_at
                else None,
                "status_code": entry.last_status_code,
            }
        )
