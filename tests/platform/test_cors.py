"""CORS for the API from CORS_ORIGINS (PLAT-62)."""

import pytest

pytestmark = pytest.mark.django_db


def preflight(client, origin):
    return client.options("/api/v1/system/ping", HTTP_ORIGIN=origin, HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET")


def test_an_allowed_origin_gets_cors_headers(client, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://crm.example.com"]

    response = preflight(client, "https://crm.example.com")

    assert response["Access-Control-Allow-Origin"] == "https://crm.example.com"


def test_another_origin_gets_none(client, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://crm.example.com"]

    response = preflight(client, "https://evil.example.net")

    assert "Access-Control-Allow-Origin" not in response


def test_the_request_id_header_is_exposed_to_browsers(client, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://crm.example.com"]

    response = client.get("/api/v1/system/ping", HTTP_ORIGIN="https://crm.example.com")

    assert "X-Request-Id" in response["Access-Control-Expose-Headers"]
