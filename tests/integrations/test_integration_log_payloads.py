"""The integration log never loses a row because of what a payload contains (RET-08, issue 8).

PostgreSQL's jsonb cannot hold ``\\u0000`` and no UTF-8 text can hold a lone
surrogate; such characters are stored as their JSON escapes, as text.
"""

from __future__ import annotations

import json
import logging

import pytest

from calls.models import TranscriptionJob
from integrations.models import IntegrationLog
from integrations.services import integration_log_write, masked_message
from tests.returns.conftest import URL, VALID_BODY, new_key, send

pytestmark = pytest.mark.django_db


def write(request=None, response=None) -> IntegrationLog:
    row = integration_log_write(
        direction=IntegrationLog.Direction.INBOUND,
        external_system=IntegrationLog.System.WAREHOUSE,
        endpoint="POST /api/v1/returns",
        status=IntegrationLog.Status.ERROR,
        status_code=422,
        request=request,
        response=response,
    )
    return IntegrationLog.objects.get(pk=row.pk)


def test_a_nul_character_is_stored_as_its_escape():
    row = write(request={"comment": "left\x00at the door"})

    assert row.request == {"comment": "left\\u0000at the door"}


def test_a_lone_surrogate_is_stored_as_its_escape():
    row = write(request={"comment": "ok \ud800", "items": [{"sku": "\udfff"}]})

    assert row.request == {"comment": "ok \\ud800", "items": [{"sku": "\\udfff"}]}


def test_escapes_apply_to_keys_and_to_the_response_too():
    row = write(request={"bad\x00key": 1}, response={"errors": [{"field": "bad\x00key"}]})

    assert row.request == {"bad\\u0000key": 1}
    assert row.response == {"errors": [{"field": "bad\\u0000key"}]}


def test_ordinary_text_is_stored_unchanged():
    text = "Возврат 📦 — 'quotes' \"and\" \\backslash\\ \t tab"

    row = write(request={"comment": text})

    assert row.request == {"comment": text}


def test_a_truncated_payload_with_a_nul_is_stored(settings):
    row = write(request={"comment": "\x00" + "x" * 70_000})
    assert row.request is not None

    assert row.request["truncated"] is True
    assert "\x00" not in row.request["head"]


@pytest.fixture
def admin_api(client_for):
    client = client_for("admin", "ops-admin")
    client.raise_request_exception = False
    return client


def test_a_return_with_a_nul_is_refused_and_its_log_row_is_written(admin_api, caplog):
    body = {**VALID_BODY, "comment": "call +79161234567 \x00 ivan@example.com"}

    with caplog.at_level(logging.ERROR):
        response = send(admin_api, "post", URL, json.loads(json.dumps(body)), key=new_key())

    assert response.status_code == 422
    row = IntegrationLog.objects.get()
    assert row.request is not None
    assert (row.status_code, row.error_code) == (422, "validation")
    assert row.request["comment"] == "call +79161234567 \\u0000 ivan@example.com"
    assert "returns.integration_log_failed" not in caplog.text


def test_a_return_with_a_nul_in_an_unknown_key_is_refused_and_logged(admin_api):
    response = send(admin_api, "post", URL, {**VALID_BODY, "colour\x00": "red"}, key=new_key())

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["colour\x00"]
    row = IntegrationLog.objects.get()
    assert row.response is not None
    assert row.response["errors"][0]["field"] == "colour\\u0000"


@pytest.mark.parametrize("path", [f"{URL}/%00", f"{URL}/{'%00' * 100}", f"{URL}/%ED%A0%80"])
def test_a_write_to_a_path_with_unstorable_text_is_404_and_logged(admin_api, path):
    response = admin_api.delete(path, HTTP_IDEMPOTENCY_KEY=new_key())

    assert response.status_code == 404
    row = IntegrationLog.objects.get()
    assert "\x00" not in row.endpoint and "\x00" not in (row.resource_ref or "")
    assert row.resource_ref is not None and len(row.resource_ref) <= 128


def test_an_error_message_with_a_nul_and_a_secret_can_be_stored_on_a_job(settings):
    # A provider's error text is kept on the job and its record; PostgreSQL refuses NUL in text.
    secret = settings.APP_CONFIG.jwt_secret
    message = masked_message(f"upstream said \x00 {secret} \ud800" + "x" * 3000, limit=2000)
    job = TranscriptionJob.objects.create(call_id="c1", engine="stub", dedup_key="c1|nul", last_error_message=message)

    stored = TranscriptionJob.objects.get(pk=job.pk).last_error_message
    assert stored.startswith("upstream said \\u0000 *** \\ud800xxx")
    assert len(stored) == 2000 and secret not in stored
