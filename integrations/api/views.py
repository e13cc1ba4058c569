"""``POST /api/v1/b24/webhooks/task-event``: task events from the Bitrix24 widget, signed instead of authenticated (BX-02)."""

from __future__ import annotations

import json
import logging
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations.models import IntegrationLog
from integrations.outbox.inbound import inbound_webhook_receive
from integrations.outbox.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_valid, timestamp_fresh
from integrations.services import integration_log_write
from mastermobile.api.errors import ProblemError
from mastermobile.api.parsers import nul_paths
from mastermobile.api.schema import problem_responses
from mastermobile.observability.context import current_request_id

logger = logging.getLogger(__name__)

SIGNATURE_SCHEME = f'HMAC-SHA256 header="{SIGNATURE_HEADER}"'
NUL_MESSAGE = "Contains a NUL character (\\u0000); leave it out."

ReceiptSerializer = inline_serializer(
    "TaskEventReceipt",
    {"event_id": serializers.CharField(), "duplicate": serializers.BooleanField()},
)


class TaskEventWebhookView(APIView):
    """Verify the signature and the timestamp, store the event once per ``event_id``, answer at once.

    No JWT: the HMAC of the raw body under ``B24_INBOUND_WEBHOOK_SECRET`` is
    the authentication.  With no secret configured the endpoint is switched off
    (401 for every call), so an unset secret never means "accept anything".
    """

    authentication_classes = ()
    permission_classes = []
    throttle_classes = ()

    @extend_schema(
        operation_id="b24_webhook_task_event",
        summary="Receive a signed Bitrix24 task event",
        description=(
            "BX-02. The body is a JSON object with a non-empty `event_id` (string). "
            f"`{SIGNATURE_HEADER}: sha256=<hex HMAC-SHA256 of the raw body>` under B24_INBOUND_WEBHOOK_SECRET "
            f"and `{TIMESTAMP_HEADER}` (unix seconds, within ±5 minutes) are required. "
            "A replayed `event_id` answers 200 with `duplicate: true` and stores nothing."
        ),
        tags=["b24-webhooks"],
        auth=[],
        parameters=[
            OpenApiParameter(SIGNATURE_HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, required=True),
            OpenApiParameter(TIMESTAMP_HEADER, OpenApiTypes.INT, OpenApiParameter.HEADER, required=True),
        ],
        request={"application/json": OpenApiTypes.OBJECT},
        responses={
            202: OpenApiResponse(ReceiptSerializer, description="Stored; processed later."),
            200: OpenApiResponse(ReceiptSerializer, description="Already received (same event_id); nothing stored."),
            **problem_responses(
                401,
                413,
                415,
                422,
                d401="Missing or wrong signature, a timestamp more than 5 minutes away, "
                "or B24_INBOUND_WEBHOOK_SECRET not configured (the endpoint is off).",
                d422="The body is not a JSON object with a non-empty string event_id, "
                "or a string or key of it holds a NUL character (\\u0000).",
            ),
        },
    )
    def post(self, request: Request) -> Response:
        body = request.body  # the raw bytes the signature covers; read before anything parses them
        secret = settings.APP_CONFIG.b24_inbound_webhook_secret
        if not secret:
            # Off, never open: 401 like any unverifiable call, so a caller cannot tell it from a wrong secret.
            logger.warning("b24.inbound_webhook_not_configured", extra={"event": "b24.inbound_webhook_not_configured"})
            raise _unauthorized("Inbound Bitrix24 webhooks are not configured (B24_INBOUND_WEBHOOK_SECRET).")
        if not (request.content_type or "").startswith("application/json"):
            raise ProblemError("unsupported-media-type", "Content-Type must be application/json.")
        if not signature_valid(secret, body, request.headers.get(SIGNATURE_HEADER)):
            raise _unauthorized(f"Missing or invalid {SIGNATURE_HEADER}.")
        if not timestamp_fresh(request.headers.get(TIMESTAMP_HEADER), now=timezone.now()):
            raise _unauthorized(f"Missing {TIMESTAMP_HEADER}, or more than 5 minutes away from the server clock.")
        payload = _payload(body)
        row, created = inbound_webhook_receive(event_id=payload["event_id"], payload=payload)
        answer = {"event_id": row.event_id, "duplicate": not created}
        code = status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK
        _audit(request, payload, answer, code)
        return Response(answer, status=code)


def _unauthorized(detail: str) -> ProblemError:
    return ProblemError("unauthorized", detail, headers={"WWW-Authenticate": SIGNATURE_SCHEME})


def _payload(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except ValueError:
        raise ProblemError("bad-request", "The body is not valid JSON.") from None
    # The event is kept whole as jsonb, which cannot hold a NUL character anywhere (a 500 on PostgreSQL).
    unstorable = nul_paths(payload)
    if unstorable:
        raise ProblemError(
            "validation",
            f"A NUL character cannot be stored: {', '.join(unstorable) or 'the body'}.",
            errors=[{"field": path, "message": NUL_MESSAGE} for path in unstorable],
        )
    event_id = payload.get("event_id") if isinstance(payload, dict) else None
    if not isinstance(event_id, str) or not event_id.strip() or len(event_id) > 128:
        raise ProblemError(
            "validation",
            "event_id is required: a non-empty string of at most 128 characters.",
            errors=[{"field": "event_id", "message": "A non-empty string of at most 128 characters is required."}],
        )
    return payload


def _audit(request: Request, payload: dict[str, Any], answer: dict[str, Any], code: int) -> None:
    """The inbound integration-log row (RET-08); the caller is Bitrix24, not a token holder, so no Principal."""
    try:
        integration_log_write(
            direction=IntegrationLog.Direction.INBOUND,
            external_system=IntegrationLog.System.BITRIX24,
            endpoint=f"{request.method} {request.path}",
            status=IntegrationLog.Status.SUCCESS,
            status_code=code,
            correlation_id=current_request_id(),
            resource_ref=answer["event_id"],
            request=payload,
            response=answer,
        )
    except DatabaseError:
        logger.exception("api.integration_log_failed", extra={"event": "api.integration_log_failed"})
