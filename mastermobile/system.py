"""Open system endpoints: liveness/health and ping (PLAT-10, PLAT-11)."""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import DatabaseError, connection
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

import mastermobile
from mastermobile.api.errors import ProblemError
from mastermobile.api.schema import problem_responses

logger = logging.getLogger(__name__)
STARTED_AT = time.monotonic()
SERVICE_NAME = "master-mobile-middleware"


def check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as error:
        return f"error: {error.__class__.__name__}"
    return "ok"


def check_broker() -> str:
    config = settings.APP_CONFIG
    if not config.uses_redis_broker:
        return check_database()
    import redis

    try:
        client = redis.Redis(
            host=config.redis_host,
            port=config.redis_port,
            db=config.redis_db,
            socket_timeout=2,
            socket_connect_timeout=2,
        )
        client.ping()
    except redis.RedisError as error:
        return f"error: {error.__class__.__name__}"
    return "ok"


def check_storage() -> str:
    name = f"health/{uuid.uuid4().hex}.txt"
    try:
        saved = default_storage.save(name, ContentFile(b"ok"))
        default_storage.delete(saved)
    except Exception as error:  # any backend failure means "not ok"
        logger.warning("health.storage_failed", extra={"event": "health.storage_failed", "error": str(error)})
        return f"error: {error.__class__.__name__}"
    return "ok"


def check_stt() -> str:
    config = settings.APP_CONFIG
    return "ok" if config.stt_enabled else "disabled"


HEALTH = inline_serializer(
    "Health",
    {
        "status": serializers.CharField(),
        "version": serializers.CharField(),
        "uptime_seconds": serializers.IntegerField(),
        "checks": serializers.DictField(child=serializers.CharField(), required=False),
    },
)


class HealthView(APIView):
    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []

    @extend_schema(
        operation_id="health",
        summary="Liveness and database check",
        parameters=[
            OpenApiParameter(
                "deep",
                str,
                description="`1`, `true` or `yes`: also check broker, storage and STT configuration; "
                "any other value is the plain check.",
            )
        ],
        responses={
            200: HEALTH,
            (503, "application/json"): OpenApiResponse(HEALTH, description="A deep check found an error."),
            **problem_responses(503, d503="The database is not answering."),
        },
        tags=["system"],
    )
    def get(self, request: Request) -> Response:
        database = check_database()
        if database != "ok":
            raise ProblemError("service-unavailable", f"The database is not answering ({database}).")
        body = {
            "status": "ok",
            "version": mastermobile.__version__,
            "uptime_seconds": int(time.monotonic() - STARTED_AT),
        }
        if request.query_params.get("deep") in ("1", "true", "yes"):
            checks = {"database": database, "broker": check_broker(), "storage": check_storage(), "stt": check_stt()}
            body["checks"] = checks
            if any(value.startswith("error") for value in checks.values()):
                body["status"] = "degraded"
                return Response(body, status=503)
        return Response(body)


class PingView(APIView):
    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []

    @extend_schema(
        operation_id="system_ping",
        summary="Service ping",
        responses={
            200: inline_serializer(
                "Ping",
                {
                    "status": serializers.CharField(),
                    "timestamp": serializers.DateTimeField(),
                    "service": serializers.CharField(),
                },
            ),
            **problem_responses(503, d503="The service cannot reach its database."),
        },
        tags=["system"],
    )
    def get(self, request: Request) -> Response:
        if check_database() != "ok":
            raise ProblemError("service-unavailable", "The service cannot reach its database.")
        now = datetime.now(UTC).replace(microsecond=0)
        return Response(
            {"status": "pong", "timestamp": now.isoformat().replace("+00:00", "Z"), "service": SERVICE_NAME}
        )
