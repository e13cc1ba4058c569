"""BX-02: the inbound task-event webhook is verified by signature and timestamp, and stores each event once."""

import dataclasses
import json
import time

import pytest
from django.conf import settings as django_settings

from integrations.models import IntegrationLog
from integrations.outbox.models import InboundWebhookEvent
from integrations.outbox.signing import signature

pytestmark = pytest.mark.django_db

URL = "/api/v1/b24/webhooks/task-event"
SECRET = "inbound-secret-0123456789"


@pytest.fixture(autouse=True)
def inbound_secret(settings):
    settings.APP_CONFIG = dataclasses.replace(django_settings.APP_CONFIG, b24_inbound_webhook_secret=SECRET)


def post(api_client, body: dict, *, secret: str = SECRET, timestamp: float | None = None, headers: dict | None = None):
    raw = json.dumps(body).encode()
    sent = {
        "HTTP_X_WEBHOOK_SIGNATURE": signature(secret, raw),
        "HTTP_X_TIMESTAMP": str(int(time.time() if timestamp is None else timestamp)),
    }
    if headers is not None:
        sent = headers
    return api_client.post(URL, raw, content_type="application/json", **sent)


def test_a_signed_fresh_event_is_stored_and_accepted(api_client):
    response = post(api_client, {"event_id": "evt-1", "task_id": "1001", "status": "5"})

    assert response.status_code == 202
    assert response.json() == {"event_id": "evt-1", "duplicate": False}
    assert InboundWebhookEvent.objects.get().payload["task_id"] == "1001"


def test_an_accepted_event_leaves_an_inbound_integration_log_row(api_client):
    post(api_client, {"event_id": "evt-1"})

    row = IntegrationLog.objects.get(direction="inbound")
    assert row.external_system == "b24"
    assert row.resource_ref == "evt-1"


def test_a_replayed_event_id_answers_duplicate_and_stores_nothing_more(api_client):
    post(api_client, {"event_id": "evt-1"})

    response = post(api_client, {"event_id": "evt-1", "again": True})

    assert response.status_code == 200
    assert response.json()["duplicate"] is True
    assert InboundWebhookEvent.objects.count() == 1


def test_a_wrong_signature_is_401_problem(api_client):
    response = post(api_client, {"event_id": "evt-1"}, secret="another-secret")

    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["type"].endswith("/unauthorized")
    assert not InboundWebhookEvent.objects.exists()


def test_a_stale_timestamp_is_401(api_client):
    response = post(api_client, {"event_id": "evt-1"}, timestamp=time.time() - 6 * 60)

    assert response.status_code == 401
    assert not InboundWebhookEvent.objects.exists()


def test_a_timestamp_from_the_future_is_401(api_client):
    assert post(api_client, {"event_id": "evt-1"}, timestamp=time.time() + 6 * 60).status_code == 401


def test_missing_headers_are_401(api_client):
    assert post(api_client, {"event_id": "evt-1"}, headers={}).status_code == 401


def test_a_body_without_event_id_is_422(api_client):
    response = post(api_client, {"task_id": "1001"})

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "event_id"


def test_a_nul_character_anywhere_in_the_event_is_422_naming_where_and_stores_nothing(api_client):
    # Stored as jsonb, which refuses NUL: this used to be a 500 on PostgreSQL (SQLite kept it).
    response = post(api_client, {"event_id": "evt-1", "task": {"title": "a\u0000b", "ta\u0000g": 1}})

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["task.title", "task.ta\u0000g"]
    assert not InboundWebhookEvent.objects.exists()


def test_without_a_configured_secret_every_call_is_refused(api_client, settings):
    settings.APP_CONFIG = dataclasses.replace(django_settings.APP_CONFIG, b24_inbound_webhook_secret="")

    response = post(api_client, {"event_id": "evt-1"}, secret="")

    assert response.status_code == 401
    assert not InboundWebhookEvent.objects.exists()


def test_a_body_that_is_not_json_is_415(api_client):
    raw = b"event_id=evt-1"
    response = api_client.post(
        URL,
        raw,
        content_type="application/x-www-form-urlencoded",
        HTTP_X_WEBHOOK_SIGNATURE=signature(SECRET, raw),
        HTTP_X_TIMESTAMP=str(int(time.time())),
    )

    assert response.status_code == 415
