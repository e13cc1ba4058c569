"""Every API error is application/problem+json with the request id (PLAT-30…32)."""

import json

import pytest

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.platform.probe_urls")]

PROBE = "/api/v1/probe"


def assert_problem(response, status, slug):
    assert response.status_code == status
    assert response["Content-Type"] == "application/problem+json"
    body = json.loads(response.content)
    assert body["type"] == f"https://api.mastermobile.app/errors/{slug}"
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    assert body["request_id"] == response["X-Request-Id"]
    assert isinstance(body["errors"], list)
    return body


def test_malformed_json_is_400(client_for):
    response = client_for("1c").post(PROBE, data="{not json", content_type="application/json")

    assert_problem(response, 400, "bad-request")


def test_field_errors_are_422_with_paths(client_for):
    response = client_for("1c").post(PROBE, {"name": "x" * 11, "items": [{"sku": "A", "qty": 0}]}, format="json")

    body = assert_problem(response, 422, "validation")
    fields = {error["field"] for error in body["errors"]}
    assert fields == {"name", "items[0].qty"}


def test_missing_credentials_are_401_with_bearer_challenge(api_client):
    response = api_client.get(PROBE)

    assert_problem(response, 401, "unauthorized")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_wrong_role_is_403(client_for):
    response = client_for("courier", "courier-001").get(PROBE)

    assert_problem(response, 403, "forbidden")


def test_an_unknown_api_path_is_404_problem(api_client):
    response = api_client.get("/api/v1/no-such-thing")

    assert_problem(response, 404, "not-found")


def test_a_wrong_method_is_405(client_for):
    response = client_for("1c").delete(PROBE)

    assert_problem(response, 405, "method-not-allowed")


def test_a_conflict_is_409(client_for):
    response = client_for("1c").get(PROBE, {"raise": "conflict"})

    body = assert_problem(response, 409, "conflict")
    assert body["detail"] == "The return is not pending."


def test_a_body_over_two_megabytes_is_413(client_for):
    payload = json.dumps({"name": "x", "blob": "y" * (2 * 1024 * 1024 + 1)})

    response = client_for("1c").post(PROBE, data=payload, content_type="application/json")

    assert_problem(response, 413, "payload-too-large")


def test_a_wrong_content_type_is_415(client_for):
    response = client_for("1c").post(PROBE, data="name=x", content_type="text/plain")

    assert_problem(response, 415, "unsupported-media-type")


def test_throttling_is_429_with_retry_after(client_for, settings):
    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    original = SimpleRateThrottle.THROTTLE_RATES
    # The default rates are rate strings like these; the stubs type them as numbers.
    SimpleRateThrottle.THROTTLE_RATES = {**api_settings.DEFAULT_THROTTLE_RATES, "subject": "2/min"}  # type: ignore[dict-item]
    try:
        from django.core.cache import cache

        cache.clear()
        client = client_for("1c", "hammering-client")
        statuses = [client.get(PROBE).status_code for _ in range(3)]
        response = client.get(PROBE)
    finally:
        SimpleRateThrottle.THROTTLE_RATES = original

    assert statuses[:2] == [200, 200]
    assert_problem(response, 429, "rate-limited")
    assert int(response["Retry-After"]) >= 1


def test_an_unexpected_error_is_500_without_traceback(client_for, caplog):
    response = client_for("1c").get(PROBE, {"raise": "crash"})

    body = assert_problem(response, 500, "internal")
    text = response.content.decode()
    assert "Traceback" not in text
    assert "hunter2" not in text
    assert body["request_id"] in body["detail"]
    assert any(record.getMessage() == "api.unhandled_exception" for record in caplog.records)


@pytest.mark.parametrize(
    ("outcome", "status", "slug", "detail"),
    [
        ("domain-conflict", 409, "conflict", "The order is not NEW."),
        ("domain-missing", 404, "not-found", "Order 42 does not exist."),
        ("domain-transition", 422, "invalid-transition", "Order 42 is NEW; it cannot become DONE."),
    ],
)
def test_a_domain_error_from_any_view_is_its_problem_type(client_for, outcome, status, slug, detail):
    response = client_for("1c").get(PROBE, {"raise": outcome})

    body = assert_problem(response, status, slug)
    assert body["detail"] == detail


def test_an_invalid_status_change_names_the_status_field(client_for):
    body = assert_problem(client_for("1c").get(PROBE, {"raise": "domain-transition"}), 422, "invalid-transition")

    assert body["errors"] == [{"field": "status", "message": "Order 42 is NEW; it cannot become DONE."}]


def test_a_django_validation_error_outside_the_returns_views_is_422_not_500(client_for):
    body = assert_problem(client_for("1c").get(PROBE, {"raise": "model-invalid"}), 422, "validation")

    assert body["errors"] == [{"field": "qty", "message": "Ensure this value is greater than or equal to 1."}]


def test_a_django_validation_error_without_fields_is_422_on_the_body(client_for):
    body = assert_problem(client_for("1c").get(PROBE, {"raise": "model-invalid-flat"}), 422, "validation")

    assert body["errors"] == [{"field": "", "message": "The period is empty."}]
