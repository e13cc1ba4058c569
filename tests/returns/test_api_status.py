"""``PATCH /api/v1/returns/{id}/status``: 1C and staff accept, reject or cancel a return (C1-02, RET-04)."""

import uuid

import pytest

from integrations.models import IntegrationLog
from mastermobile.models import IdempotencyRecord
from returns.models import Return
from tests.returns.conftest import detail_url, new_key, send

pytestmark = pytest.mark.django_db


def status_url(return_id: object) -> str:
    return f"{detail_url(return_id)}/status"


def patch(client, return_id: object, payload, *, key: str | None = "auto"):
    return send(client, "patch", status_url(return_id), payload, key=new_key() if key == "auto" else key)


def _history_count(target: Return) -> int:
    return Return.history.filter(return_id=target.return_id).count()


@pytest.mark.parametrize(
    ("start", "end"),
    [("pending", "accepted"), ("pending", "rejected"), ("pending", "cancelled"), ("accepted", "cancelled")],
)
def test_an_allowed_move_answers_200_with_the_full_return(onec_api, make_return, start, end):
    target = make_return(status=start)

    response = patch(onec_api, target.return_id, {"status": end})

    assert response.status_code == 200
    assert response.json()["status"] == end
    assert response.json() == onec_api.get(detail_url(target.return_id)).json()
    assert [item["line_id"] for item in response.json()["items"]] == ["line_1", "line_2"]
    assert Return.objects.get().status == end


def test_the_reason_and_the_caller_are_kept_in_the_history(onec_api, make_return):
    target = make_return()

    patch(onec_api, target.return_id, {"status": "rejected", "reason": "Нет чека, упаковка вскрыта"})

    latest = Return.history.filter(return_id=target.return_id).first()
    assert latest.status == "rejected"
    assert latest.history_change_reason == "rejected by jwt:1c-main: Нет чека, упаковка вскрыта"


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("accepted", "rejected"),
        ("rejected", "accepted"),
        ("rejected", "cancelled"),
        ("cancelled", "accepted"),
        ("cancelled", "rejected"),
    ],
)
def test_a_forbidden_move_is_409_naming_both_statuses_and_changes_nothing(onec_api, make_return, start, end):
    target = make_return(status=start)
    history_before = _history_count(target)

    response = patch(onec_api, target.return_id, {"status": end})

    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["type"].endswith("/conflict")
    assert start in response.json()["detail"] and end in response.json()["detail"]
    assert Return.objects.get().status == start
    assert _history_count(target) == history_before


@pytest.mark.parametrize("status", ["accepted", "rejected", "cancelled"])
def test_asking_for_the_current_status_is_200_and_adds_no_history(onec_api, make_return, status):
    target = make_return(status=status)
    before = Return.objects.get().updated_at
    history_before = _history_count(target)

    response = patch(onec_api, target.return_id, {"status": status, "reason": "again"})

    assert response.status_code == 200
    assert response.json()["status"] == status
    assert Return.objects.get().updated_at == before
    assert _history_count(target) == history_before


@pytest.mark.parametrize("return_id", [uuid.uuid4(), "abc"])
def test_an_unknown_or_malformed_id_is_404(onec_api, return_id):
    response = patch(onec_api, return_id, {"status": "accepted"})

    assert response.status_code == 404
    assert response.json()["type"].endswith("/not-found")


@pytest.mark.parametrize(("role", "expected"), [("1c", 200), ("admin", 200), ("courier", 403)])
def test_only_1c_and_admin_may_change_the_status(client_for, make_return, role, expected):
    target = make_return()  # courier-001's own return
    client = client_for(role, "courier-001" if role == "courier" else f"{role}-client")

    response = patch(client, target.return_id, {"status": "accepted"})

    assert response.status_code == expected
    assert Return.objects.get().status == ("accepted" if expected == 200 else "pending")


def test_a_staff_session_may_change_the_status(admin_client, make_return):
    target = make_return()

    response = patch(admin_client, target.return_id, {"status": "accepted"})

    assert response.status_code == 200
    assert Return.history.filter(return_id=target.return_id).first().history_change_reason == (
        "accepted by session:admin"
    )


def test_no_token_is_401(api_client, make_return):
    target = make_return()

    response = patch(api_client, target.return_id, {"status": "accepted"})

    assert response.status_code == 401
    assert Return.objects.get().status == "pending"


def test_a_missing_idempotency_key_is_400_and_changes_nothing(onec_api, make_return):
    target = make_return()

    response = patch(onec_api, target.return_id, {"status": "accepted"}, key=None)

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["detail"]
    assert Return.objects.get().status == "pending"


def test_the_same_key_and_body_replay_the_first_answer(onec_api, make_return):
    target = make_return()
    key = new_key()
    first = patch(onec_api, target.return_id, {"status": "accepted"}, key=key)
    history_after_first = _history_count(target)

    second = patch(onec_api, target.return_id, {"status": "accepted"}, key=key)

    assert second.status_code == first.status_code == 200
    assert second.content == first.content
    assert second["Idempotent-Replayed"] == "true"
    assert _history_count(target) == history_after_first


def test_the_same_key_with_another_status_is_409_and_changes_nothing(onec_api, make_return):
    target = make_return()
    key = new_key()
    patch(onec_api, target.return_id, {"status": "accepted"}, key=key)

    response = patch(onec_api, target.return_id, {"status": "cancelled"}, key=key)

    assert response.status_code == 409
    assert response.json()["type"].endswith("/idempotency-key-reused")
    assert Return.objects.get().status == "accepted"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"status": "lost"}, "status"),
        ({"status": "pending"}, "status"),
        ({"status": 1}, "status"),
        ({}, "status"),
        ({"status": "accepted", "reason": "x" * 501}, "reason"),
        ({"status": "accepted", "reason": 5}, "reason"),
        ({"status": "accepted", "comment": "typo"}, "comment"),
    ],
)
def test_an_invalid_body_is_422_naming_the_field_and_frees_the_key(onec_api, make_return, payload, field):
    target = make_return()

    response = patch(onec_api, target.return_id, payload)

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == [field]
    assert Return.objects.get().status == "pending"
    assert IdempotencyRecord.objects.count() == 0


def test_a_reason_of_500_characters_is_accepted(onec_api, make_return):
    target = make_return()

    response = patch(onec_api, target.return_id, {"status": "rejected", "reason": "я" * 500})

    assert response.status_code == 200


def test_a_status_change_writes_one_inbound_integration_log_row(onec_api, make_return):
    target = make_return()

    response = patch(onec_api, target.return_id, {"status": "accepted", "reason": "ok"})

    row = IntegrationLog.objects.get()
    assert (row.direction, row.external_system, row.status, row.status_code) == ("inbound", "1c", "success", 200)
    assert row.endpoint == f"PATCH {status_url(target.return_id)}"
    assert row.resource_ref == str(target.return_id)
    assert row.request == {"status": "accepted", "reason": "ok"}
    assert row.correlation_id == response["X-Request-Id"]


def test_a_refused_status_change_is_logged_as_an_error(onec_api, make_return):
    target = make_return(status="rejected")

    patch(onec_api, target.return_id, {"status": "accepted"})

    row = IntegrationLog.objects.get()
    assert (row.status, row.status_code, row.error_code) == ("error", 409, "conflict")
