"""``GET /api/v1/call-registry`` (EXP-04) and ``GET /api/v1/b24-calls/export.csv|json`` (EXP-05)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User
from rest_framework.test import APIClient

from calls.models import RegistryDownload
from calls.registry import BOM, EXPORT_COLUMNS, REGISTRY_COLUMNS
from tests.calls.registry import make_golden_records

pytestmark = pytest.mark.django_db
GOLDEN = Path(__file__).parent.parent / "data" / "registry" / "golden.csv"
PERIOD = {"period_from": "2026-10-01T00:00:00Z", "period_to": "2026-10-31T23:59:59Z"}


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def staff_client(*permissions: str) -> APIClient:
    user = User.objects.create_user("analyst", password="x", is_staff=True)
    for name in permissions:
        app_label, codename = name.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    client = APIClient()
    client.force_login(user)
    return client


def test_the_registry_streams_the_golden_csv_with_its_download_headers(client_for, settings):
    settings.APP_CONFIG = settings.APP_CONFIG.__class__(**{**vars(settings.APP_CONFIG), "pii_masking_enabled": False})
    make_golden_records()

    response = client_for("1c").get("/api/v1/call-registry", PERIOD, HTTP_X_REQUEST_ID="req-registry-1")

    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="calls_20261001T000000_20261031T235959.csv"'
    assert response["Cache-Control"] == "no-store"
    assert response["X-Request-Id"] == "req-registry-1"
    assert body(response) == GOLDEN.read_bytes()


def test_a_client_that_accepts_only_csv_gets_it(client_for):
    response = client_for("admin").get("/api/v1/call-registry", PERIOD, HTTP_ACCEPT="text/csv")

    assert response.status_code == 200
    assert body(response) == BOM + (";".join(REGISTRY_COLUMNS) + "\r\n").encode()


def test_the_period_is_inclusive_and_ordered_by_start(client_for):
    make_golden_records()

    response = client_for("1c").get(
        "/api/v1/call-registry", {"period_from": "2026-10-05T07:00:00Z", "period_to": "2026-10-31T20:59:59Z"}
    )

    lines = body(response).decode().split("\r\n")[1:-1]
    assert [line.split(";")[1] for line in lines] == ["1002", "1003"]


def test_an_inverted_period_is_400(client_for):
    response = client_for("1c").get(
        "/api/v1/call-registry", {"period_from": "2026-10-31T00:00:00Z", "period_to": "2026-10-01T00:00:00Z"}
    )

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["detail"] == "Invalid period range"
    assert RegistryDownload.objects.count() == 0


@pytest.mark.parametrize(
    "query",
    [{}, {"period_from": "2026-10-01T00:00:00Z"}, {"period_from": "yesterday", "period_to": "2026-10-31T00:00:00Z"}],
)
def test_a_missing_or_unparsable_period_is_422(client_for, query):
    response = client_for("1c").get("/api/v1/call-registry", query, HTTP_ACCEPT="text/csv")

    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert json.loads(response.content)["status"] == 422


@pytest.mark.parametrize(
    "path", ["/api/v1/call-registry", "/api/v1/b24-calls/export.csv", "/api/v1/b24-calls/export.json"]
)
def test_roles_on_every_endpoint(path, client_for, api_client):
    assert api_client.get(path, PERIOD).status_code == 401
    assert client_for("courier", "courier-001").get(path, PERIOD).status_code == 403
    assert staff_client().get(path, PERIOD).status_code == 403
    assert client_for("admin").get(path, PERIOD).status_code == 200
    assert client_for("1c").get(path, PERIOD).status_code == 200


def test_staff_with_the_export_permission_get_masked_data_and_with_the_unmasked_permission_real_numbers(settings):
    settings.APP_CONFIG = settings.APP_CONFIG.__class__(**{**vars(settings.APP_CONFIG), "pii_masking_enabled": True})
    make_golden_records()

    masked = body(staff_client("calls.export_callrecord").get("/api/v1/call-registry", PERIOD)).decode()
    User.objects.all().delete()
    unmasked = staff_client("calls.export_callrecord", "calls.view_unmasked_pii").get("/api/v1/call-registry", PERIOD)

    assert "+79161234567" not in masked and "+7***" in masked and "secret-key" not in masked
    assert "+79161234567" in body(unmasked).decode()
    assert list(RegistryDownload.objects.values_list("unmasked", flat=True).order_by("created_at", "id")) == [
        False,
        True,
    ]


def test_every_download_is_audited_with_who_filters_and_rows(client_for):
    make_golden_records()

    response = client_for("1c", "erp-prod").get(
        "/api/v1/b24-calls/export.json", {"employee_id": " 17 ", "has_text": "true"}
    )
    items = json.loads(body(response))

    download = RegistryDownload.objects.get()
    assert [item["call_id"] for item in items] == ["1001"]
    assert download.principal == "jwt:erp-prod (1c)" and download.user is None
    assert download.channel == "api" and download.format == "json"
    assert download.filters == {"employee_id": "17", "has_text": True}
    assert download.row_count == 1 and download.finished_at is not None


def test_an_unfinished_download_shows_no_row_count(client_for):
    make_golden_records()

    response = client_for("1c").get("/api/v1/call-registry", PERIOD)
    next(iter(response.streaming_content))

    download = RegistryDownload.objects.get()
    assert download.row_count is None and download.finished_at is None


def test_the_export_filters_by_employee_dates_and_text(client_for):
    make_golden_records()
    client = client_for("admin")

    def call_ids(**query) -> list[str]:
        return [item["call_id"] for item in json.loads(body(client.get("/api/v1/b24-calls/export.json", query)))]

    assert call_ids() == ["1001", "1002", "1003"]
    assert call_ids(employee_id="21") == ["1003"]
    assert call_ids(has_text="false") == ["1002", "1003"]
    assert call_ids(date_from="2026-10-05T00:00:00Z") == ["1002", "1003"]
    assert call_ids(date_to="2026-10-05T07:00:00Z") == ["1001", "1002"]


def test_the_export_csv_has_the_21st_has_text_column_and_its_filename_names_open_bounds(client_for):
    make_golden_records()
    client = client_for("admin")

    whole = client.get("/api/v1/b24-calls/export.csv")
    from_only = client.get("/api/v1/b24-calls/export.csv", {"date_from": "2026-10-01T00:00:00Z"})

    lines = body(whole).decode()[1:].split("\r\n")
    assert lines[0].split(";") == list(EXPORT_COLUMNS)
    assert [line.split(";")[-1] for line in lines[1:-1]] == ["true", "false", "false"]
    assert whole["Content-Disposition"] == 'attachment; filename="b24_calls_export.csv"'
    assert from_only["Content-Disposition"] == 'attachment; filename="b24_calls_20261001T000000_end.csv"'


def test_the_json_export_has_the_21_keys_and_types(client_for):
    make_golden_records()

    response = client_for("admin").get("/api/v1/b24-calls/export.json", {"date_to": "2026-10-31T23:59:59Z"})

    items = json.loads(body(response))
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="b24_calls_start_20261031T235959.json"'
    assert all(list(item) == list(EXPORT_COLUMNS) for item in items)
    assert items[0]["transcription_cost"] == "0.02" and items[2]["retry_count"] == 3
    assert items[1]["employee"] is None and items[0]["has_text"] is True


@pytest.mark.parametrize(
    "query",
    [
        {"date_from": "2026-10-31T00:00:00Z", "date_to": "2026-10-01T00:00:00Z"},
    ],
)
def test_an_inverted_date_range_is_400(client_for, query):
    response = client_for("admin").get("/api/v1/b24-calls/export.csv", query)

    assert response.status_code == 400 and response.json()["detail"] == "Invalid date range"


@pytest.mark.parametrize("query", [{"date_from": "01.10.2026"}, {"employee_id": "x" * 129}, {"has_text": "perhaps"}])
def test_bad_export_filters_are_422(client_for, query):
    response = client_for("admin").get("/api/v1/b24-calls/export.json", query)

    assert response.status_code == 422 and response["Content-Type"] == "application/problem+json"
