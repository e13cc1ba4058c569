import re
import uuid

import pytest

from integrations.models import IntegrationLog
from returns.models import Return, ReturnLine
from tests.returns.conftest import URL, detail_url, new_key, send

pytestmark = pytest.mark.django_db

RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def test_it_creates_a_return_with_location_and_numbered_lines(courier_api, body):
    response = send(courier_api, "post", URL, body, key=new_key())

    assert response.status_code == 201
    created = response.json()
    assert uuid.UUID(created["id"])
    assert response["Location"] == f"/api/v1/returns/{created['id']}"
    assert [item["line_id"] for item in created["items"]] == ["line_1", "line_2"]
    assert created["status"] == "pending"
    assert Return.objects.get().created_by == "courier-001"


def test_it_answers_with_the_full_return_body(courier_api, body):
    created = send(courier_api, "post", URL, body, key=new_key()).json()

    assert set(created) == {
        "id",
        "status",
        "source",
        "courier_id",
        "order_id_1c",
        "manager_id",
        "comment",
        "created_at",
        "updated_at",
        "items",
    }
    assert created["manager_id"] is None
    assert RFC3339_UTC.match(created["created_at"])
    assert RFC3339_UTC.match(created["updated_at"])
    assert created["items"][1] == {
        "line_id": "line_2",
        **body["items"][1],
    }
    assert created["items"][0]["photos"] is None


def test_the_readme_curl_example_works(admin_api):
    body = {
        "source": "warehouse",
        "courier_id": "courier-001",
        "items": [{"sku": "SKU-1001", "qty": 1, "quality": "new", "reason_code": "customer_changed_mind"}],
    }

    response = admin_api.post(
        URL,
        data=__import__("json").dumps(body),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=new_key(),
        HTTP_X_REQUEST_ID=str(uuid.uuid4()),
    )

    assert response.status_code == 201


def test_it_accepts_a_charset_in_the_content_type(admin_api, body):
    response = admin_api.post(
        URL,
        data=__import__("json").dumps(body),
        content_type="application/json; charset=utf-8",
        HTTP_IDEMPOTENCY_KEY=new_key(),
    )

    assert response.status_code == 201


def test_unicode_and_sql_like_text_round_trips_unchanged(admin_api, body):
    body["comment"] = "Вернул курьер 📦 — «бережно»'; DROP TABLE returns_return; --"
    body["items"][0]["sku"] = "СКУ-ёжик-🦔"
    body["items"][0]["reason_code"] = "' OR 1=1 --"

    created = send(admin_api, "post", URL, body, key=new_key()).json()
    fetched = admin_api.get(detail_url(created["id"])).json()

    assert fetched["comment"] == body["comment"]
    assert fetched["items"][0]["sku"] == "СКУ-ёжик-🦔"
    assert fetched["items"][0]["reason_code"] == "' OR 1=1 --"
    assert ReturnLine.objects.filter(sku="СКУ-ёжик-🦔").count() == 1


def test_it_accepts_500_lines(admin_api, body):
    body["items"] = [
        {"sku": f"SKU-{index}", "qty": 1, "quality": "unknown", "reason_code": "bulk"} for index in range(500)
    ]

    response = send(admin_api, "post", URL, body, key=new_key())

    assert response.status_code == 201
    assert response.json()["items"][-1]["line_id"] == "line_500"
    assert ReturnLine.objects.count() == 500


def test_a_courier_cannot_create_a_return_for_another_courier(courier_api, body):
    body["courier_id"] = "courier-002"

    response = send(courier_api, "post", URL, body, key=new_key())

    assert response.status_code == 403
    assert Return.objects.count() == 0


def test_a_write_leaves_one_inbound_integration_log_row(courier_api, onec_api, make_return, body):
    response = send(
        courier_api,
        "post",
        URL,
        body,
        key=new_key(),
    )
    replaced = send(onec_api, "put", detail_url(make_return().return_id), body, key=new_key())

    assert response.status_code == 201 and replaced.status_code == 200
    courier_row, onec_row = IntegrationLog.objects.order_by("id")
    assert courier_row.direction == "inbound"
    assert courier_row.external_system == "warehouse"
    assert courier_row.status == "success"
    assert courier_row.status_code == 201
    assert courier_row.resource_ref == response.json()["id"]
    assert courier_row.correlation_id == response["X-Request-Id"]
    assert onec_row.external_system == "1c"


def test_a_failed_write_is_logged_as_an_error(admin_api, body):
    body["items"] = []

    response = send(admin_api, "post", URL, body, key=new_key())

    row = IntegrationLog.objects.get()
    assert response.status_code == 422
    assert (row.status, row.status_code, row.error_code) == ("error", 422, "validation")


def test_a_replay_is_not_logged_again(admin_api, body):
    key = new_key()
    send(admin_api, "post", URL, body, key=key)

    send(admin_api, "post", URL, body, key=key)

    assert IntegrationLog.objects.count() == 1


def test_the_created_body_is_what_a_later_get_answers(admin_api, body):
    created = send(admin_api, "post", URL, body, key=new_key()).json()

    fetched = admin_api.get(detail_url(created["id"])).json()

    assert fetched == created
    assert created["created_at"].endswith("Z") and len(created["created_at"]) == len("2026-11-25T15:11:42.123456Z")
