"""The transcription jobs page and the record actions that requeue or re-transcribe (STT-07)."""

from __future__ import annotations

from unittest import mock

import pytest
from django.urls import reverse

from calls.models import CallRecord, TranscriptionJob
from tests.calls.test_dlq_api import dead_letter

pytestmark = pytest.mark.django_db


def test_the_dead_letter_list_shows_the_reason_in_russian(admin_client):
    entry = dead_letter()

    response = admin_client.get(reverse("admin:calls_transcriptionjob_changelist"), {"status": "dead_letter"})

    page = response.content.decode()
    assert response.status_code == 200
    assert "Отложено (DLQ)" in page and entry.call_id in page
    assert "Bad request." in page  # the provider's message, next to the code


def test_a_job_page_shows_and_cannot_be_saved(admin_client):
    entry = dead_letter()

    response = admin_client.get(reverse("admin:calls_transcriptionjob_change", args=[entry.pk]))

    assert response.status_code == 200
    assert 'name="_save"' not in response.content.decode()


def test_the_requeue_action_puts_dead_letters_back_and_leaves_the_rest(
    admin_client, admin_user, django_capture_on_commit_callbacks
):
    entry, other = dead_letter(1), dead_letter(2)
    TranscriptionJob.objects.filter(pk=other.pk).update(status="succeeded")

    with mock.patch("calls.tasks.async_task") as queued, django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:calls_transcriptionjob_changelist"),
            {"action": "requeue", "_selected_action": [entry.pk, other.pk]},
            follow=True,
        )

    entry.refresh_from_db()
    assert entry.status == "queued"
    assert entry.history[-1]["actor"] == admin_user.get_username()
    assert TranscriptionJob.objects.get(pk=other.pk).status == "succeeded"
    assert [c.args[1] for c in queued.call_args_list] == [str(entry.pk)]
    shown = [str(m) for m in response.context["messages"]]
    assert len(shown) == 2 and "1" in shown[0]


def test_record_actions_requeue_failed_and_re_transcribe_completed(admin_client, django_capture_on_commit_callbacks):
    failed, done = dead_letter(1), dead_letter(2)
    assert failed.call_record_id is not None and done.call_record_id is not None
    CallRecord.objects.filter(pk=done.call_record_id).update(status="completed", error_code=None)
    TranscriptionJob.objects.filter(pk=done.pk).update(status="succeeded")
    changelist = reverse("admin:calls_callrecord_changelist")

    with mock.patch("calls.tasks.async_task"), django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            changelist, {"action": "requeue_failed_transcriptions", "_selected_action": [failed.call_record_id]}
        )
        admin_client.post(changelist, {"action": "retranscribe", "_selected_action": [done.call_record_id]})

    assert CallRecord.objects.get(pk=failed.call_record_id).status == "downloaded"
    assert TranscriptionJob.objects.get(pk=failed.pk).status == "queued"
    assert TranscriptionJob.objects.get(pk=done.pk).status == "queued"
    # A completed record stays completed until a worker picks its job up (CALL-11 completed → transcribing).
    assert CallRecord.objects.get(pk=done.call_record_id).status == "completed"
