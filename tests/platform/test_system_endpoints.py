import re
import uuid

import pytest

pytestmark = pytest.mark.django_db


def test_ping_answers_pong_with_utc_timestamp(api_client):
    response = api_client.get("/api/v1/system/ping")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "pong"
    assert body["service"] == "master-mobile-middleware"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["timestamp"])


def test_health_reports_version_and_uptime(api_client):
    response = api_client.get("/health")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["version"] == __import__("mastermobile").__version__
    assert isinstance(body["uptime_seconds"], int)
    assert "checks" not in body


def test_deep_health_checks_broker_storage_and_stt(api_client, tmp_path, settings):
    response = api_client.get("/health?deep=1")

    assert response.status_code == 200
    checks = response.json()["checks"]
    assert checks["database"] == "ok"
    assert checks["broker"] == "ok"
    assert checks["storage"] == "ok"
    assert checks["stt"] == "disabled"


def test_health_is_503_problem_when_database_is_down(api_client, monkeypatch):
    monkeypatch.setattr("mastermobile.system.check_database", lambda: "error: OperationalError")

    response = api_client.get("/health")

    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["type"].endswith("/service-unavailable")


def test_a_valid_client_request_id_is_echoed(api_client):
    response = api_client.get("/api/v1/system/ping", HTTP_X_REQUEST_ID="order-42.retry_1")

    assert response["X-Request-Id"] == "order-42.retry_1"


def test_a_missing_request_id_is_generated(api_client):
    response = api_client.get("/health")

    assert uuid.UUID(response["X-Request-Id"]).version == 4


@pytest.mark.parametrize("bad_id", ["x" * 129, "x" * 300, "with space", "tab\there", "", "null\x00byte", "кириллица"])
def test_an_invalid_request_id_is_replaced(api_client, bad_id):
    response = api_client.get("/api/v1/system/ping", HTTP_X_REQUEST_ID=bad_id)

    assert response["X-Request-Id"] != bad_id
    assert uuid.UUID(response["X-Request-Id"]).version == 4


def test_a_128_character_request_id_is_kept(api_client):
    request_id = "a" * 128

    response = api_client.get("/api/v1/system/ping", HTTP_X_REQUEST_ID=request_id)

    assert response["X-Request-Id"] == request_id


def test_admin_login_page_is_titled_mastermobile(client):
    response = client.get("/admin/login/")

    assert response.status_code == 200
    assert "MasterMobile" in response.content.decode()


def test_staff_sees_the_admin_dashboard(admin_client):
    response = admin_client.get("/admin/")

    assert response.status_code == 200
    assert "Бэк-офис" in response.content.decode()
