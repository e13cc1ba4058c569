"""The OpenAPI schema documents what every operation can answer and the input rules DRF enforces."""

from __future__ import annotations

import re

import pytest
from drf_spectacular.generators import SchemaGenerator

from mastermobile.api.schema import NO_NUL_PATTERN, NOT_BLANK_PATTERN

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema: dict, prefix: str = "/api/v1/") -> list[tuple[str, str, dict]]:
    return [
        (path, method, operation)
        for path, item in schema["paths"].items()
        if path.startswith(prefix)
        for method, operation in item.items()
        if method in METHODS
    ]


def throttled(schema: dict) -> list[tuple[str, str, dict]]:
    return [entry for entry in operations(schema) if "security" in entry[2]]


def test_every_throttled_operation_documents_429_with_retry_after(schema):
    assert throttled(schema)
    for path, method, operation in throttled(schema):
        answer = operation["responses"].get("429")
        assert answer, f"{method.upper()} {path} does not document 429"
        assert "application/problem+json" in answer["content"]
        assert answer["headers"]["Retry-After"]["required"] is True


def test_every_authenticated_operation_documents_401_403_400_and_406_as_problems(schema):
    for path, method, operation in throttled(schema):
        for code in ("400", "401", "403", "406"):
            assert list(operation["responses"][code]["content"]) == ["application/problem+json"], (method, path, code)


def test_every_operation_with_a_body_documents_413_415_and_422(schema):
    with_body = [entry for entry in operations(schema) if "requestBody" in entry[2]]

    assert {path for path, _, _ in with_body} >= {
        "/api/v1/returns",
        "/api/v1/ww/orders",
        "/api/v1/b24/webhooks/task-event",
        "/api/v1/returns/{return_id}/status",
    }
    for path, method, operation in with_body:
        assert {"413", "415", "422"} <= operation["responses"].keys(), (method, path)


def test_an_idempotent_write_documents_409_with_retry_after(schema):
    created = schema["paths"]["/api/v1/returns"]["post"]["responses"]["409"]

    assert "Retry-After" in created["headers"]


def test_open_system_endpoints_document_neither_401_nor_429(schema):
    for path in ("/health", "/api/v1/system/ping"):
        responses = schema["paths"][path]["get"]["responses"]
        assert {"401", "403", "429"}.isdisjoint(responses)
        assert "503" in responses


def test_a_body_that_refuses_unknown_fields_says_so(schema):
    components = schema["components"]["schemas"]

    assert components["ReturnCreateRequest"]["additionalProperties"] is False
    assert components["ReturnLineInputRequest"]["additionalProperties"] is False
    assert "additionalProperties" not in components["Return"]


def test_body_strings_document_the_nul_and_blank_rules_and_keep_their_own_patterns(schema):
    line = schema["components"]["schemas"]["ReturnLineInputRequest"]["properties"]
    body = schema["components"]["schemas"]["ReturnCreateRequest"]["properties"]

    assert line["sku"]["pattern"] == NOT_BLANK_PATTERN
    assert line["reason_note"]["pattern"] == NO_NUL_PATTERN
    assert line["imei"]["pattern"] == "^[0-9]{14,16}$"
    assert body["items"]["minItems"] == 1
    assert body["items"]["maxItems"] == 500


@pytest.mark.parametrize("value", ["SKU-1", " x ", "", "   ", "\xa0\u2003", "\x85\x1c", "a\x00", "\ufeff"])
def test_the_not_blank_pattern_reads_blank_as_python_strip_does(value):
    assert bool(re.search(NOT_BLANK_PATTERN, value)) == (bool(value.strip()) and "\x00" not in value)


def test_a_filter_that_may_be_empty_allows_an_empty_value_and_page_does_not(schema):
    parameters = {p["name"]: p for p in schema["paths"]["/api/v1/returns"]["get"]["parameters"]}

    assert parameters["created_to"]["allowEmptyValue"] is True
    assert parameters["courier_id"]["schema"]["maxLength"] == 64
    assert "allowEmptyValue" not in parameters["page"]


def test_the_idempotency_key_header_documents_what_the_server_accepts(schema):
    header = next(p for p in schema["paths"]["/api/v1/returns"]["post"]["parameters"] if p["name"] == "Idempotency-Key")
    pattern = header["schema"]["pattern"]

    assert header["schema"]["maxLength"] == 128
    assert re.search(pattern, "8d3c6a1e-5f0b-4f7e-9a61-2f2d1f0b9c11")
    assert not re.search(pattern, " \xa0 ")
    assert not re.search(pattern, "key\x07")
