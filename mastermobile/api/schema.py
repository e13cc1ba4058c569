"""OpenAPI pieces every API app shares: the problem+json schema, its responses, the docs pages."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView
from rest_framework import serializers
from rest_framework.request import Request

from mastermobile.api.errors import PROBLEM_CONTENT_TYPE


class ProblemFieldErrorSerializer(serializers.Serializer):
    field = serializers.CharField()
    message = serializers.CharField()


class ProblemSerializer(serializers.Serializer):
    """``application/problem+json`` as produced by ``mastermobile.api.errors`` (PLAT-30)."""

    type = serializers.URLField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    request_id = serializers.CharField()
    errors = ProblemFieldErrorSerializer(many=True)

    class Meta:
        ref_name = "Problem"


PROBLEM_DESCRIPTIONS = {
    400: "Malformed JSON, bad query parameter or bad/missing Idempotency-Key.",
    401: "Missing, invalid or expired token; a token living longer than its role allows; a courier who is not active.",
    403: "The caller's role may not perform this operation.",
    404: "No such resource (or not visible to this caller).",
    409: "Idempotency conflict (key reused with another payload, or in progress) or a state conflict.",
    413: "Body over 2 MB.",
    415: "Content-Type is not application/json.",
    422: "Field validation failed; errors[] names each field as a path (items[0].qty).",
    429: "Too many requests; wait Retry-After seconds.",
    503: "A dependency is unavailable.",
}


def problem_responses(*codes: int, **descriptions: str) -> dict[tuple[int, str], OpenApiResponse]:
    """``responses=`` entries for ``extend_schema``; override a text with ``d404="…"``."""
    return {
        (code, PROBLEM_CONTENT_TYPE): OpenApiResponse(
            ProblemSerializer, description=descriptions.get(f"d{code}", PROBLEM_DESCRIPTIONS[code])
        )
        for code in codes
    }


class _BodylessOptions:
    """OPTIONS on an HTML page answers with ``Allow`` and no body.

    DRF answers OPTIONS with its metadata, rendered by the view's renderer;
    for a template page that meant Swagger UI's template without its context
    (500 ``TemplateDoesNotExist``) or ReDoc's whole page.
    """

    def options(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        return HttpResponse(status=200)  # DRF adds Allow (and Vary) in finalize_response


class SwaggerView(_BodylessOptions, SpectacularSwaggerView):
    """``/api/docs/``: Swagger UI."""


class RedocView(_BodylessOptions, SpectacularRedocView):
    """``/api/redoc/``: ReDoc."""
