"""Prometheus metrics and the OpenAPI schema (PLAT-12, PLAT-13, PLAT-53)."""

import re

import pytest

from tests.processes import manage, process_env

pytestmark = pytest.mark.django_db


def sample(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if all(found.get(key) == value for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_requests_by_route_template(client):
    before = sample(
        client.get("/metrics").content.decode(),
        "http_requests_total",
        method="GET",
        status_code="200",
        path="/api/v1/system/ping",
    )

    client.get("/api/v1/system/ping")
    client.get("/api/v1/system/ping")
    text = client.get("/metrics").content.decode()

    after = sample(text, "http_requests_total", method="GET", status_code="200", path="/api/v1/system/ping")
    assert after - before == 2
    assert sample(text, "http_request_duration_seconds_count", path="/api/v1/system/ping") >= 2


def test_metrics_keep_unmatched_paths_in_one_label(client):
    client.get("/no/such/page/123")
    text = client.get("/metrics").content.decode()

    assert sample(text, "http_requests_total", status_code="404", path="<unmatched>") >= 1
    assert "/no/such/page/123" not in text


def test_metrics_count_unknown_api_paths_as_unmatched(client):
    unmatched_404 = {"method": "GET", "status_code": "404", "path": "<unmatched>"}
    before = sample(client.get("/metrics").content.decode(), "http_requests_total", **unmatched_404)

    client.get("/api/v1/no-such-thing/123")
    text = client.get("/metrics").content.decode()

    assert sample(text, "http_requests_total", **unmatched_404) - before == 1
    assert "no-such-thing" not in text
    assert "api(?:" not in text


def test_metrics_include_django_prometheus_database_families_and_count_requests_once(client):
    client.get("/api/v1/system/ping")
    text = client.get("/metrics").content.decode()

    assert "django_db_execute_total" in text or "django_db_new_connections_total" in text
    # One HTTP layer: ours, by route template; django-prometheus' request families would double it.
    assert "django_http_requests_total_by_view_transport_method_total" not in text
    assert 'http_requests_total{method="GET",path="/api/v1/system/ping",status_code="200"}' in text


def test_the_schema_is_served_and_swagger_ui_renders(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    docs = client.get("/api/docs/")
    redoc = client.get("/api/redoc/")

    assert schema.status_code == 200
    assert schema.json()["openapi"].startswith("3.")
    assert "/api/v1/system/ping" in schema.json()["paths"]
    assert docs.status_code == 200
    assert redoc.status_code == 200


@pytest.mark.slow
def test_the_openapi_schema_validates_without_warnings(tmp_path):
    target = tmp_path / "schema.yaml"
    result = manage("spectacular", "--validate", "--fail-on-warn", "--file", str(target), env=process_env())

    assert result.returncode == 0, result.stderr
    assert target.read_text().startswith("openapi: 3")
