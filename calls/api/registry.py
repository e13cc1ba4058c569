"""``GET /api/v1/call-registry`` (EXP-04) and ``GET /api/v1/b24-calls/export.csv|json`` (EXP-05), streamed."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import renderers, serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from calls.models import RegistryDownload
from calls.registry import EXPORT_COLUMNS, REGISTRY_COLUMNS, registry_download
from mastermobile.api.authentication import request_principal
from mastermobile.api.datetimes import QUERY_SCHEMA
from mastermobile.api.errors import ProblemError
from mastermobile.api.permissions import roles_description
from mastermobile.api.schema import problem_responses
from mastermobile.api.serializers import RFC3339DateTimeField

REGISTRY_ROLES = {"1c", "admin"}
REGISTRY_PERMISSION = "calls.export_callrecord"
UNMASKED_PERMISSION = "calls.view_unmasked_pii"
_FILENAME_TIME = "%Y%m%dT%H%M%S"


class _DownloadRenderer(renderers.BaseRenderer):
    """Lets ``Accept: text/csv`` (or the JSON download's type) negotiate; the body itself is streamed by the view.

    Only an error answer is ever rendered through it: a problem document, as JSON.
    """

    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        return json.dumps(data, ensure_ascii=False).encode()


class CSVRenderer(_DownloadRenderer):
    media_type = "text/csv"
    format = "csv"


class RegistryQuerySerializer(serializers.Serializer):
    # No year bounds, unlike a run's period: a registry of the year 1500 is simply empty.
    period_from = RFC3339DateTimeField()
    period_to = RFC3339DateTimeField()

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if data["period_to"] < data["period_from"]:
            raise ProblemError("bad-request", "Invalid period range")
        return data


class ExportQuerySerializer(serializers.Serializer):
    employee_id = serializers.CharField(required=False, max_length=128, trim_whitespace=True)
    date_from = RFC3339DateTimeField(required=False)
    date_to = RFC3339DateTimeField(required=False)
    # Only the two words the schema's boolean allows (DRF's BooleanField also takes "null", "yes", "on"…).
    has_text = serializers.ChoiceField(choices=["true", "false"], required=False)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if data.get("date_from") and data.get("date_to") and data["date_to"] < data["date_from"]:
            raise ProblemError("bad-request", "Invalid date range")
        if "has_text" in data:
            data["has_text"] = data["has_text"] == "true"
        return data


def _period_parameter(name: str, required: bool, description: str) -> OpenApiParameter:
    return OpenApiParameter(name, QUERY_SCHEMA, required=required, description=description)


# DRF's ``?format=`` override is not part of these downloads' contract: the path says what comes back.
_NO_FORMAT_OVERRIDE = OpenApiParameter("format", exclude=True)
REGISTRY_PARAMETERS = [
    _NO_FORMAT_OVERRIDE,
    _period_parameter("period_from", True, "Inclusive start of the period, on `call_started_at` (RFC 3339)."),
    _period_parameter("period_to", True, "Inclusive end of the period (RFC 3339); not before `period_from`."),
]
EXPORT_PARAMETERS = [
    _NO_FORMAT_OVERRIDE,
    OpenApiParameter("employee_id", {"type": "string", "maxLength": 128}, description="Exact employee id, trimmed."),
    _period_parameter("date_from", False, "Inclusive start, on `call_started_at` (RFC 3339)."),
    _period_parameter("date_to", False, "Inclusive end (RFC 3339); not before `date_from`."),
    OpenApiParameter("has_text", OpenApiTypes.BOOL, description="true: a transcript key is set; false: none or empty."),
]
_ACCESS = (
    f"{roles_description({'GET': REGISTRY_ROLES}, 'GET')} Staff also need `{REGISTRY_PERMISSION}`; "
    f"with `PII_MASKING_ENABLED` numbers are masked and recording URLs lose their query string, except for staff "
    f"with `{UNMASKED_PERMISSION}`. Every download is written to the audit log."
)


class _RegistryDownloadView(APIView):
    allowed_roles = {"GET": REGISTRY_ROLES}
    staff_permission = REGISTRY_PERMISSION
    query_serializer: type[serializers.Serializer]
    export_format = RegistryDownload.Format.CSV
    columns: tuple[str, ...] = REGISTRY_COLUMNS

    def get_renderers(self) -> list[renderers.BaseRenderer]:
        return [*super().get_renderers(), CSVRenderer()]

    def get(self, request: Request) -> StreamingHttpResponse:
        query = self.query_serializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        filters = self.filters(query.validated_data)
        principal = request_principal(request)
        staff = principal.staff_user if principal.via == "session" else None
        chunks = registry_download(
            export_format=self.export_format,
            columns=self.columns,
            filters=filters,
            unmasked=bool(staff and staff.has_perm(UNMASKED_PERMISSION)),
            principal=f"{principal.actor_id} ({principal.role})",
            user=staff,
            channel=RegistryDownload.Channel.API,
            endpoint=request.path,
        )
        content_type = "text/csv" if self.export_format == RegistryDownload.Format.CSV else "application/json"
        response = StreamingHttpResponse(chunks, content_type=f"{content_type}; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{self.filename(filters)}"'
        response["Cache-Control"] = "no-store"
        return response

    def filters(self, data: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def filename(self, filters: dict[str, Any]) -> str:
        raise NotImplementedError


@extend_schema_view(
    get=extend_schema(
        operation_id="call_registry",
        summary="The call registry for a period (CSV)",
        description=(
            "EXP-01/02: UTF-8 with a BOM, `;`, CRLF, the 20 registry columns, calls started in the inclusive period "
            f"oldest first; streamed. {_ACCESS}"
        ),
        parameters=REGISTRY_PARAMETERS,
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The registry, header row first."),
            **problem_responses(
                400,
                401,
                403,
                422,
                d400="`Invalid period range`: `period_to` is before `period_from`.",
                d422="`period_from` or `period_to` missing or not an RFC 3339 date-time.",
            ),
        },
        tags=["b24-calls"],
    )
)
class CallRegistryView(_RegistryDownloadView):
    query_serializer = RegistryQuerySerializer

    def filters(self, data: dict[str, Any]) -> dict[str, Any]:
        return {"period_from": data["period_from"], "period_to": data["period_to"]}

    def filename(self, filters: dict[str, Any]) -> str:
        return f"calls_{_stamp(filters['period_from'])}_{_stamp(filters['period_to'])}.csv"


class _ExportView(_RegistryDownloadView):
    query_serializer = ExportQuerySerializer
    columns = EXPORT_COLUMNS

    def filters(self, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "period_from": data.get("date_from"),
            "period_to": data.get("date_to"),
            "employee_id": data.get("employee_id") or None,
            "has_text": data.get("has_text"),
        }

    def filename(self, filters: dict[str, Any]) -> str:
        start, end = filters["period_from"], filters["period_to"]
        if start is None and end is None:
            return f"b24_calls_export.{self.export_format}"
        first = _stamp(start) if start else "start"
        last = _stamp(end) if end else "end"
        return f"b24_calls_{first}_{last}.{self.export_format}"


_EXPORT_ERRORS = problem_responses(
    400,
    401,
    403,
    422,
    d400="`Invalid date range`: `date_to` is before `date_from`.",
    d422="A date that is not RFC 3339, `employee_id` over 128 characters or `has_text` not a boolean.",
)


@extend_schema_view(
    get=extend_schema(
        operation_id="b24_calls_export_csv",
        summary="Call records as CSV, filtered",
        description=f"The registry's 20 columns plus `has_text` (`true`/`false`), in registry order; streamed. {_ACCESS}",
        parameters=EXPORT_PARAMETERS,
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="Header row first."),
            **_EXPORT_ERRORS,
        },
        tags=["b24-calls"],
    )
)
class CallExportCSVView(_ExportView):
    export_format = RegistryDownload.Format.CSV


@extend_schema_view(
    get=extend_schema(
        operation_id="b24_calls_export_json",
        summary="Call records as JSON, filtered",
        description=(
            "One array of objects with the 21 keys of the CSV export (`from` as is). Missing values are null, "
            f"`transcription_cost` a string with 2 decimals, `retry_count` an integer, `has_text` a boolean. {_ACCESS}"
        ),
        parameters=EXPORT_PARAMETERS,
        responses={
            (200, "application/json"): OpenApiResponse(
                {"type": "array", "items": {"type": "object", "additionalProperties": True}},
                description="The records, oldest call first.",
            ),
            **_EXPORT_ERRORS,
        },
        tags=["b24-calls"],
    )
)
class CallExportJSONView(_ExportView):
    export_format = RegistryDownload.Format.JSON


def _stamp(moment: datetime) -> str:
    return moment.strftime(_FILENAME_TIME)
