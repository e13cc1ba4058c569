"""JSON that is valid by RFC 8259 but hostile: deep nesting and lone surrogates are 4xx, never 5xx (issue 8)."""

from __future__ import annotations

import json

import pytest

from calls.models import CallExport
from mastermobile.api.parsers import MAX_DEPTH, nesting_depth
from mastermobile.models import IdempotencyRecord
from returns.models import Return
from tests.returns.conftest import URL, VALID_BODY, new_key, send

pytestmark = pytest.mark.django_db

CALL_EXPORTS = "/api/v1/call-exports"


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


def body_text(**changes) -> str:
    """The valid return body with raw JSON text spliced in (``comment='"\\ud800"'``)."""
    text = json.dumps({**VALID_BODY, **dict.fromkeys(changes, "@@")})
    for name, raw in changes.items():
        text = text.replace(f'"{name}": "@@"', f'"{name}": {raw}')
    return text


@pytest.fixture
def admin_api(client_for):
    client = client_for("admin", "ops-admin")
    client.raise_request_exception = False
    return client


def assert_nothing_stored():
    assert Return.objects.count() == 0
    assert IdempotencyRecord.objects.count() == 0
    assert CallExport.objects.count() == 0


@pytest.mark.parametrize("url", [URL, CALL_EXPORTS])
def test_a_body_nested_ten_thousand_levels_deep_is_a_400_problem(admin_api, url):
    response = send(admin_api, "post", url, raw=nested(10_000), key=new_key())

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert "nesting too deep" in response.json()["detail"]
    assert_nothing_stored()


def test_a_deeply_nested_value_inside_a_valid_body_is_a_400_problem(admin_api):
    response = send(admin_api, "post", URL, raw=body_text(comment=nested(MAX_DEPTH)), key=new_key())

    assert response.status_code == 400
    assert "nesting too deep" in response.json()["detail"]


def test_nesting_up_to_the_limit_reaches_validation(admin_api):
    response = send(admin_api, "post", URL, raw=body_text(comment=nested(MAX_DEPTH - 1)), key=new_key())

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["comment"]


def test_brackets_inside_strings_do_not_count_as_nesting():
    assert nesting_depth(json.dumps({"comment": "[" * 1000 + '\\"{'})) == 1


@pytest.mark.parametrize("url", [URL, CALL_EXPORTS])
def test_a_lone_surrogate_in_a_value_is_a_422_naming_the_field(admin_api, url):
    response = send(admin_api, "post", url, raw='{"comment": "ok \\ud800"}', key=new_key())

    assert response.status_code == 422
    body = response.json()
    assert body["type"].endswith("/validation")
    assert [error["field"] for error in body["errors"]] == ["comment"]
    assert_nothing_stored()


def test_a_lone_surrogate_deep_in_a_return_names_its_path(admin_api):
    raw = json.dumps(VALID_BODY).replace('"SKU-1002"', '"SKU-\\udfff"')

    response = send(admin_api, "post", URL, raw=raw, key=new_key())

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["items[1].sku"]
    assert_nothing_stored()


def test_a_lone_surrogate_in_a_key_is_named_with_escapes(admin_api):
    response = send(admin_api, "post", URL, raw='{"bad\\ud800key": 1}', key=new_key())

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["bad\\ud800key"]


def test_a_surrogate_pair_is_an_ordinary_character(admin_api):
    response = send(admin_api, "post", URL, raw=body_text(comment='"smile \\ud83d\\ude00"'), key=new_key())

    assert response.status_code == 201
    assert response.json()["comment"] == "smile \U0001f600"


def test_a_rejected_body_still_leaves_its_integration_log_row(admin_api):
    from integrations.models import IntegrationLog

    send(admin_api, "post", URL, raw=body_text(comment='"\\ud800"'), key=new_key())

    row = IntegrationLog.objects.get()
    assert (row.status, row.status_code, row.error_code) == ("error", 422, "validation")
