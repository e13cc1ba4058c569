"""OpenAPI pieces every API app shares: the problem+json schema, its responses, and the schema class.

:class:`AutoSchema` (``DEFAULT_SCHEMA_CLASS``) documents in one place what
every operation can answer because of how its view is built, so views declare
only their own outcomes (the success body, 404, a state conflict):

- any operation: 400 (a header or query parameter it cannot use, e.g. a bad
  ``Content-Length``) and 406 (an ``Accept`` it cannot satisfy);
- a view with authentication and role checks: 401 and 403;
- a throttled view: 429 with ``Retry-After``;
- an operation with a JSON body: 413, 415 and 422;
- an ``@idempotent`` handler: 409 (``Idempotency-Key`` conflict or in progress, with ``Retry-After``).

It also writes down input rules that DRF enforces but drf-spectacular does
not document: body strings never contain NUL, a text that may not be blank may
not be whitespace either, a list of nested objects has its length limits,
serializers that refuse unknown fields have ``additionalProperties: false``,
and a query parameter that may be blank is ``allowEmptyValue`` (the view reads
``?name=`` as "not given").
"""

from __future__ import annotations

from typing import Any, Literal

from drf_spectacular import openapi
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

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
    # A declared field, which the serializer's metaclass takes out of the class: Serializer.errors stays as it is.
    errors = ProblemFieldErrorSerializer(many=True)  # type: ignore[assignment]

    class Meta:
        ref_name = "Problem"


PROBLEM_DESCRIPTIONS = {
    400: "Malformed JSON, bad query parameter or bad/missing Idempotency-Key.",
    401: "Missing, invalid or expired token; a token living longer than its role allows; a courier who is not active.",
    403: "The caller's role may not perform this operation.",
    404: "No such resource (or not visible to this caller).",
    406: "The Accept header names no type this API produces (application/json, application/problem+json).",
    409: "Idempotency conflict (key reused with another payload, or in progress) or a state conflict.",
    413: "Body over 2 MB.",
    415: "Content-Type is not application/json.",
    422: "Field validation failed; errors[] names each field as a path (items[0].qty).",
    429: "Too many requests for this caller (API_THROTTLE_RATE); wait Retry-After seconds.",
    503: "A dependency is unavailable.",
}

# What Python's str.strip() removes (str.isspace), spelled out so that every
# regex dialect (ECMA in validators, Python's re in generators) reads it the same.
WHITESPACE_CLASS = r"\t\n\u000b\u000c\r\u001c-\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NO_NUL_PATTERN = r"^[^\u0000]*$"
NOT_BLANK_PATTERN = rf"^[^\u0000]*[^\u0000{WHITESPACE_CLASS}][^\u0000]*$"

RETRY_AFTER_429 = OpenApiParameter(
    "Retry-After",
    OpenApiTypes.INT,
    OpenApiParameter.HEADER,
    response=[429],
    required=True,
    description="Seconds until this caller's window of API_THROTTLE_RATE requests starts again.",
)
RETRY_AFTER_409 = OpenApiParameter(
    "Retry-After",
    OpenApiTypes.INT,
    OpenApiParameter.HEADER,
    response=[409],
    description="Sent with `idempotency-in-progress`: retry the same request after this many seconds.",
)
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def problem_responses(*codes: int, **descriptions: str) -> dict[tuple[int, str], OpenApiResponse]:
    """``responses=`` entries for ``extend_schema``; override a text with ``d404="…"``."""
    return {
        (code, PROBLEM_CONTENT_TYPE): OpenApiResponse(
            ProblemSerializer, description=descriptions.get(f"d{code}", PROBLEM_DESCRIPTIONS[code])
        )
        for code in codes
    }


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's schema plus the answers and input rules every API view shares (see the module docstring)."""

    def shared_problem_codes(self) -> set[int]:
        """The problem statuses this operation can answer because of how its view is built."""
        view = self.view
        codes = {400, 406}
        if view.authentication_classes and view.permission_classes:
            codes |= {401, 403}
        if view.throttle_classes:
            codes.add(429)
        if self.method in BODY_METHODS and self.get_request_serializer() is not None:
            codes |= {413, 415, 422}
        if self._is_idempotent():
            codes.add(409)
        return codes

    def _get_request_for_media_type(self, serializer: Any, direction: str = "request") -> Any:
        # drf-spectacular documents every PATCH body as partial (no field required, a "Patched…"
        # component); DRF validates partially only when a view passes partial=True, and none here does.
        if self.method != "PATCH":
            return super()._get_request_for_media_type(serializer, direction)
        self.method = "PUT"
        try:
            return super()._get_request_for_media_type(serializer, direction)
        finally:
            self.method = "PATCH"

    def _get_response_bodies(self, direction: Literal["request", "response"] = "response") -> dict:
        # extend_schema(responses=…) replaces get_response_serializers, so the shared answers join here.
        responses = super()._get_response_bodies(direction)
        for code in sorted(self.shared_problem_codes()):
            if str(code) not in responses:
                problem = OpenApiResponse(ProblemSerializer, description=PROBLEM_DESCRIPTIONS[code])
                responses[str(code)] = self._get_response_for_code(
                    problem, str(code), [PROBLEM_CONTENT_TYPE], direction
                )
        return responses

    def get_override_parameters(self) -> list[Any]:
        parameters = list(super().get_override_parameters())
        if self.view.throttle_classes:
            parameters.append(RETRY_AFTER_429)
        if self._is_idempotent():
            parameters.append(RETRY_AFTER_409)
        return parameters

    def _process_override_parameters(self, direction: str = "request") -> dict:
        result = super()._process_override_parameters(direction)
        for parameter in self.get_override_parameters():
            if not isinstance(parameter, OpenApiParameter) or parameter.response:
                continue
            if parameter.location != OpenApiParameter.QUERY:
                continue
            entry = result.get((parameter.name, parameter.location))
            if entry is None:
                continue
            if parameter.allow_blank:
                # Django forms and django-filter read `?name=` as "not given".
                entry["allowEmptyValue"] = True
        return result

    def _map_serializer_field(self, field: Any, direction: str, bypass_extensions: bool = False) -> dict:
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if direction == "request" and isinstance(field, serializers.ListSerializer):
            if not field.allow_empty:
                schema["minItems"] = max(schema.get("minItems", 0), 1)
            # ListSerializer's min_length/max_length (DRF 3.14+) are missing from the stubs.
            min_length, max_length = getattr(field, "min_length", None), getattr(field, "max_length", None)
            if min_length is not None:
                schema["minItems"] = max(schema.get("minItems", 0), min_length)
            if max_length is not None:
                schema["maxItems"] = max_length
        if direction == "request" and isinstance(field, serializers.CharField):
            self._insert_field_validators(field, schema)  # a RegexValidator's pattern wins over the rules below
            if not field.allow_blank:
                _constrain_free_text(schema, NOT_BLANK_PATTERN)
            else:  # DRF's CharField refuses NUL (ProhibitNullCharactersValidator)
                _constrain_free_text(schema, NO_NUL_PATTERN)
        return schema

    def _map_basic_serializer(self, serializer: Any, direction: str) -> dict:
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and getattr(serializer, "refuses_unknown_fields", False):
            schema["additionalProperties"] = False
        return schema

    def _get_pagination_parameters(self) -> list[dict]:
        # An APIView that pages by hand names its paginator as ``pagination_class`` (drf-spectacular
        # only looks for it on generic list views).
        paginator = self._get_paginator()
        if self.method != "GET" or paginator is None or self._is_list_view():
            return super()._get_pagination_parameters()
        return paginator.get_schema_operation_parameters(self.view)

    def _is_idempotent(self) -> bool:
        handler = getattr(self.view, self.method.lower(), None)
        return bool(getattr(handler, "idempotent", False))


def _constrain_free_text(schema: dict, pattern: str) -> None:
    if schema.get("type") == "string" and not {"pattern", "format", "enum"} & schema.keys():
        schema["pattern"] = pattern
