"""``/api/v1/call-exports`` (EXP-06)."""

from __future__ import annotations

import dataclasses
import re
import uuid
from datetime import UTC
from unittest import mock

import pytest

from calls.models import CallExport

pytestmark = pytest.mark.django_db


def new_key() -> dict[str, str]:
    return {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())}


def test_starting_a_run_answers_202_and_queues_the_listing(client_for, b24_config, django_capture_on_commit_callbacks):
    with (
        mock.patch("django_q.tasks.async_task") as queued,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client_for("admin").post(
            "/api/v1/call-exports",
            {"period_from": "2026-09-01T00:00:00Z", "period_to": "2026-10-31T23:59:59Z"},
            format="json",
            **new_key(),
        )

    assert response.status_code == 202
    body = response.json()
    run = CallExport.objects.get()
    assert body["run_id"] == str(run.run_id)
    assert body["status"] == "pending"
    assert run.options["trigger"] == "api" and run.actor is None
    queued.assert_called_once()
    assert queued.call_args.args == ("calls.tasks.list_calls", str(run.run_id))


def test_starting_an_active_period_again_answers_200_with_the_same_run(client_for, b24_config):
    payload = {"period_from": "2026-09-01T00:00:00Z", "period_to": "2026-10-31T23:59:59Z"}
    first = client_for("admin").post("/api/v1/call-exports", payload, format="json", **new_key())

    second = client_for("admin").post("/api/v1/call-exports", payload, format="json", **new_key())

    assert second.status_code == 200
    assert second.json()["run_id"] == first.json()["run_id"]
    assert CallExport.objects.count() == 1


def test_a_reversed_period_is_a_validation_problem(client_for, b24_config):
    response = client_for("admin").post(
        "/api/v1/call-exports",
        {"period_from": "2026-10-01T00:00:00Z", "period_to": "2026-09-01T00:00:00Z"},
        format="json",
        **new_key(),
    )

    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert CallExport.objects.count() == 0


def test_a_courier_may_not_start_runs(client_for):
    response = client_for("courier", "courier-001").post("/api/v1/call-exports", {}, format="json", **new_key())

    assert response.status_code == 403


def test_1c_may_start_runs(client_for, b24_config):
    response = client_for("1c", "onec-prod").post("/api/v1/call-exports", {"dry_run": True}, format="json", **new_key())

    assert response.status_code == 202


def test_starting_a_run_needs_an_idempotency_key(client_for, b24_config):
    response = client_for("admin").post("/api/v1/call-exports", {"dry_run": True}, format="json")

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["detail"]
    assert CallExport.objects.count() == 0


def test_repeating_a_start_with_the_same_key_replays_it(client_for, b24_config):
    client = client_for("admin")
    key = new_key()
    first = client.post("/api/v1/call-exports", {"dry_run": True}, format="json", **key)

    again = client.post("/api/v1/call-exports", {"dry_run": True}, format="json", **key)

    assert again.status_code == first.status_code == 202
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert CallExport.objects.count() == 1


def test_staff_need_the_export_permission(client, django_user_model, b24_config):
    from django.contrib.auth.models import Permission

    staff = django_user_model.objects.create_user("operator", password="pw-123456789", is_staff=True)
    client.force_login(staff)
    refused = client.post(
        "/api/v1/call-exports",
        {"dry_run": True},
        content_type="application/json",
        HTTP_ACCEPT="application/json",
        **new_key(),
    )
    staff.user_permissions.add(Permission.objects.get(codename="export_callrecord"))
    staff = django_user_model.objects.get(pk=staff.pk)
    client.force_login(staff)

    allowed = client.post(
        "/api/v1/call-exports",
        {"dry_run": True},
        content_type="application/json",
        HTTP_ACCEPT="application/json",
        **new_key(),
    )

    assert refused.status_code == 403
    assert allowed.status_code == 202


def test_a_run_reports_status_counters_and_progress(client_for, b24_config):
    created = client_for("admin").post("/api/v1/call-exports", {"dry_run": True}, format="json", **new_key()).json()

    response = client_for("admin").get(f"/api/v1/call-exports/{created['run_id']}")

    assert response.status_code == 200
    body = response.json()
    assert body["options"]["dry_run"] is True
    assert {"total_calls", "processed_calls", "progress_percent", "listed_total"} <= set(body)


def test_an_unknown_run_is_a_404_problem(client_for):
    response = client_for("admin").get("/api/v1/call-exports/5b1f0a4c-6a43-4a43-9d3c-1a4b9f7e0000")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


def start(client, body):
    return client.post("/api/v1/call-exports", body, format="json", **new_key())


def test_an_unknown_field_is_a_422_naming_it(client_for, b24_config):
    response = start(client_for("admin"), {"dry_run": True, "junk": 1})

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["junk"]
    assert CallExport.objects.count() == 0


@pytest.mark.parametrize(
    "period",
    [
        {"period_from": "0070-01-01T00:00:00Z", "period_to": "2026-01-01T00:00:00Z"},
        {"period_from": "1999-12-31T23:59:59Z", "period_to": "2000-01-02T00:00:00Z"},
        {"period_from": "2100-12-31T00:00:00Z", "period_to": "2101-01-01T00:00:00Z"},
        {"period_from": "2100-12-31T00:00:00Z", "period_to": "2100-12-31T23:30:00-05:00"},
        {"period_from": "8042-01-01T00:00:00Z", "period_to": "8042-01-02T00:00:00Z"},
    ],
)
def test_a_period_outside_the_years_2000_to_2100_is_a_422(client_for, b24_config, period):
    response = start(client_for("admin"), period)

    assert response.status_code == 422
    assert "2000-01-01T00:00:00.000000Z" in response.json()["errors"][0]["message"]
    assert CallExport.objects.count() == 0


@pytest.mark.parametrize(
    "value",
    ["2026-09-01T00:00:00", "2026-09-01", "1964-07-16T12:21:46-18:10", "yesterday", 1788220800, None],
)
def test_a_period_start_that_is_not_an_rfc_3339_instant_is_a_422(client_for, b24_config, value):
    response = start(client_for("admin"), {"period_from": value, "period_to": "2026-10-31T23:59:59Z"})

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "period_from"


def test_the_first_and_last_instants_of_the_range_are_accepted(client_for, b24_config, settings):
    settings.APP_CONFIG = dataclasses.replace(settings.APP_CONFIG, call_export_max_period_days=3660)
    client = client_for("admin")

    first = start(client, {"period_from": "2000-01-01T00:00:00Z", "period_to": "2000-01-31T00:00:00Z"})
    last = start(client, {"period_from": "2100-12-01T00:00:00Z", "period_to": "2100-12-31T23:59:59.999999Z"})

    assert (first.status_code, last.status_code) == (202, 202)


def test_a_period_longer_than_the_maximum_is_a_422_naming_the_setting(client_for, b24_config):
    response = start(client_for("admin"), {"period_from": "2025-01-01T00:00:00Z", "period_to": "2026-01-02T00:00:01Z"})

    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["field"] == "period_to"
    assert "366 days" in error["message"] and "CALL_EXPORT_MAX_PERIOD_DAYS" in error["message"]


def test_a_period_of_exactly_the_maximum_is_accepted(client_for, b24_config):
    response = start(client_for("admin"), {"period_from": "2024-01-01T00:00:00Z", "period_to": "2025-01-01T00:00:00Z"})

    assert response.status_code == 202


def test_a_start_alone_longer_than_the_maximum_before_today_is_a_422(client_for, b24_config):
    response = start(client_for("admin"), {"period_from": "2000-01-01T00:00:00Z"})

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "period_to"


RFC_3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


def test_a_run_renders_its_datetimes_in_utc_with_four_digit_years(client_for, b24_config):
    response = start(
        client_for("admin"), {"period_from": "2026-09-01T03:00:00+03:00", "period_to": "2026-09-30T12:00:00Z"}
    )

    body = response.json()
    run = CallExport.objects.get()
    assert body["period_from"] == "2026-09-01T00:00:00.000000Z"
    assert body["period_to"] == "2026-09-30T12:00:00.000000Z"
    assert RFC_3339_UTC.fullmatch(body["started_at"])
    assert body["started_at"] == run.started_at.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"
    assert body["finished_at"] is None


def test_every_start_that_reached_the_view_leaves_one_inbound_log_row(client_for, b24_config):
    from integrations.models import IntegrationLog

    client = client_for("1c", "onec-prod")
    key = new_key()
    started = client.post("/api/v1/call-exports", {"dry_run": True}, format="json", **key)
    client.post("/api/v1/call-exports", {"dry_run": True}, format="json", **key)  # a replay is not a new write
    refused = client.post(
        "/api/v1/call-exports",
        {"period_from": "2026-10-01T00:00:00Z", "period_to": "2026-09-01T00:00:00Z"},
        format="json",
        **new_key(),
    )

    rows = list(IntegrationLog.objects.order_by("id"))
    assert [(row.direction, row.external_system, row.status_code) for row in rows] == [
        ("inbound", "1c", started.status_code),
        ("inbound", "1c", refused.status_code),
    ]
    assert rows[0].endpoint == "POST /api/v1/call-exports"
    assert rows[0].resource_ref == started.json()["run_id"]
    assert rows[1].error_code == "validation"


@pytest.mark.parametrize("value", [0, 1, "true", "yes", None])
def test_a_flag_that_is_not_a_json_boolean_is_422(client_for, b24_config, value):
    response = client_for("admin").post(
        "/api/v1/call-exports", {"dry_run": True, "generate_summary": value}, format="json", **new_key()
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "generate_summary"
    assert CallExport.objects.count() == 0
