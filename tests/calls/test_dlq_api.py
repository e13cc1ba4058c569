"""``GET /api/v1/admin/stt/dlq`` and ``POST /api/v1/admin/stt/dlq/{entry_id}/requeue`` (EXP-06, STT-07)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from calls.models import CallExport, CallRecord, TranscriptionJob

pytestmark = pytest.mark.django_db


def dead_letter(n: int = 1, *, failed_minutes_ago: int = 0) -> TranscriptionJob:
    run = CallExport.objects.create(
        period_from=datetime(2026, 1, n, tzinfo=UTC), period_to=datetime(2026, 1, n, 23, tzinfo=UTC), status="completed"
    )
    record = CallRecord.objects.create(
        run=run,
        call_id=f"call-{n}",
        record_id=str(n),
        direction="inbound",
        from_number="+79000000000",
        to_number="+74950000000",
        duration_sec=30,
        status="error",
        error_code="http_400",
        storage_path=f"raw/2026/01/01/call_{n}.wav",
        checksum="ab" * 32,
        recording_url=f"https://portal.example/rec/{n}.mp3",
    )
    return TranscriptionJob.objects.create(
        call_record=record,
        call_id=record.call_id,
        recording_url=record.recording_url or "",
        engine="openai-whisper",
        language="ru",
        dedup_key=TranscriptionJob.dedup_key_for(record.call_id, record.recording_url, "openai-whisper"),
        status="dead_letter",
        attempts=1,
        last_status_code=400,
        last_error_code="http_400",
        last_error_message="STT provider answered 400: Bad request.",
        dlq_reason="400: STT provider answered 400: Bad request.",
        failed_at=timezone.now() - timedelta(minutes=failed_minutes_ago),
    )


def test_the_list_shows_dead_letters_newest_first(client_for):
    older, newer = dead_letter(1, failed_minutes_ago=10), dead_letter(2)

    response = client_for("admin").get("/api/v1/admin/stt/dlq")

    assert response.status_code == 200
    body = response.json()
    assert [item["entry_id"] for item in body["items"]] == [str(newer.pk), str(older.pk)]
    first = body["items"][0]
    assert first["job"] == {
        "record_id": newer.call_record_id,
        "call_id": "call-2",
        "recording_url": "https://portal.example/rec/2.mp3",
        "engine": "openai-whisper",
        "language": "ru",
    }
    assert (first["status_code"], first["error_code"], body["total_items"]) == (400, "http_400", 2)


def test_the_list_masks_the_access_key_of_a_recording_url(client_for):
    entry = dead_letter(3)
    TranscriptionJob.objects.filter(pk=entry.pk).update(
        recording_url="https://portal.example/disk/downloadFile/3/?ncc=1&filename=3.mp3&auth=secret-access-key"
    )

    response = client_for("admin").get("/api/v1/admin/stt/dlq")

    assert response.status_code == 200
    assert response.json()["items"][0]["job"]["recording_url"] == (
        "https://portal.example/disk/downloadFile/3/?ncc=1&filename=3.mp3&auth=***"
    )
    assert "secret-access-key" not in response.content.decode()


def test_requeue_answers_the_entry_and_puts_the_job_back(client_for, django_capture_on_commit_callbacks):
    entry = dead_letter()

    with mock.patch("calls.tasks.async_task") as queued, django_capture_on_commit_callbacks(execute=True):
        response = client_for("admin").post(
            f"/api/v1/admin/stt/dlq/{entry.pk}/requeue",
            {"reason": "provider fixed"},
            format="json",
            HTTP_X_REQUEST_ID="req-dlq-1",
        )

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["entry_id"], body["status_code"]) == ("requeued", str(entry.pk), 400)
    assert body["reason"].startswith("400: ") and body["job"]["call_id"] == "call-1"
    entry.refresh_from_db()
    assert entry.call_record_id is not None
    record = CallRecord.objects.get(pk=entry.call_record_id)
    assert (entry.status, record.status, record.error_code) == ("queued", "downloaded", None)
    audit = entry.history[-1]
    assert (audit["reason"], audit["request_id"], audit["call_id"]) == ("provider fixed", "req-dlq-1", "call-1")
    assert audit["actor"]  # the token's subject
    # Dispatched to a worker straight away.
    assert [c.args[:2] for c in queued.call_args_list] == [("calls.tasks.transcribe", str(entry.pk))]


def test_requeue_of_an_unknown_or_live_entry_is_404(client_for):
    live = dead_letter()
    TranscriptionJob.objects.filter(pk=live.pk).update(status="queued")

    for entry_id in (uuid.uuid4(), live.pk):
        response = client_for("admin").post(f"/api/v1/admin/stt/dlq/{entry_id}/requeue", {}, format="json")

        assert response.status_code == 404
        assert response["Content-Type"].startswith("application/problem+json")
        assert response.json()["detail"] == "DLQ entry not found"


@pytest.mark.parametrize("role", ["1c", "courier"])
def test_only_admins_may_see_or_requeue(client_for, role):
    entry = dead_letter()

    listed = client_for(role).get("/api/v1/admin/stt/dlq")
    requeued = client_for(role).post(f"/api/v1/admin/stt/dlq/{entry.pk}/requeue", {}, format="json")

    assert (listed.status_code, requeued.status_code) == (403, 403)
    entry.refresh_from_db()
    assert entry.status == "dead_letter"


def test_a_bad_body_is_a_validation_problem_and_changes_nothing(client_for):
    entry = dead_letter()

    for body, field in (({"reason": "x" * 201}, "reason"), ({"force": True}, "force")):
        response = client_for("admin").post(f"/api/v1/admin/stt/dlq/{entry.pk}/requeue", body, format="json")

        assert response.status_code == 422
        assert [error["field"] for error in response.json()["errors"]] == [field]
    entry.refresh_from_db()
    assert entry.status == "dead_letter"


def test_staff_need_the_change_permission(client):
    entry = dead_letter()
    user = get_user_model().objects.create_user("viewer", password="pw", is_staff=True)
    client.force_login(user)

    response = client.post(f"/api/v1/admin/stt/dlq/{entry.pk}/requeue", {}, content_type="application/json")

    assert response.status_code == 403
