"""Admin screens for runs and records, and the authenticated audio view (OPS-11…OPS-17)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse

from calls import services
from calls.models import CallExport, CallExportStatus, CallRecord
from tests.fakes.audio import wav_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def exported(b24_config, fake_b24):
    run, _ = services.call_export_start(period_from=datetime(2000, 1, 1, tzinfo=UTC), period_to=datetime.now(UTC))
    return services.call_export_process(run=run)


@pytest.fixture
def admin_client(client):
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))
    return client


@pytest.fixture
def viewer_client(client):
    user = get_user_model().objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_callrecord"))
    client.force_login(user)
    return client


def test_the_run_list_shows_status_counters_and_progress(admin_client, exported):
    response = admin_client.get(reverse("admin:calls_callexport_changelist"))

    assert response.status_code == 200
    body = response.content.decode()
    assert 'class="mm-progress-bar" style="width: 100.0%"' in body
    assert f"{exported.processed_calls} / {exported.total_calls}" in body
    assert "Запустить выгрузку" in body
    assert str(exported.run_id)[:8] in body


def test_the_start_form_creates_a_run_for_the_staff_user(admin_client, b24_config, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(
            reverse("admin:calls_callexport_start"), {"period_from": "2026-09-01", "period_to": "2026-10-31"}
        )

    run = CallExport.objects.get()
    assert response.status_code == 302
    assert (run.status, run.actor.username) == ("pending", "root")
    # Whole days in CALL_EXPORT_TIMEZONE (Moscow, UTC+3), stored in UTC.
    assert (run.period_from, run.period_to) == (
        datetime(2026, 8, 31, 21, 0, 0, tzinfo=UTC),
        datetime(2026, 10, 31, 20, 59, 59, tzinfo=UTC),
    )
    assert len(callbacks) == 1  # the listing task is queued on commit


def test_the_cancel_action_cancels_a_pending_run(admin_client, b24_config):
    run, _ = services.call_export_start(period_from=datetime(2026, 9, 1, tzinfo=UTC), period_to=datetime.now(UTC))

    admin_client.post(
        reverse("admin:calls_callexport_changelist"), {"action": "cancel_runs", "_selected_action": [run.pk]}
    )

    run.refresh_from_db()
    assert run.status == CallExportStatus.CANCELLED


def test_the_resume_action_moves_a_failed_run_back_in_progress(admin_client, b24_config):
    run = CallExport.objects.create(
        period_from=datetime(2026, 9, 1, tzinfo=UTC), period_to=datetime.now(UTC), status=CallExportStatus.ERROR
    )

    admin_client.post(
        reverse("admin:calls_callexport_changelist"), {"action": "resume_runs", "_selected_action": [run.pk]}
    )

    run.refresh_from_db()
    assert run.status == CallExportStatus.IN_PROGRESS


def test_records_are_searchable_by_call_id_and_filterable_by_status(admin_client, exported, fake_b24):
    call_id = fake_b24.items[3]["CALL_ID"]
    url = reverse("admin:calls_callrecord_changelist")

    found = admin_client.get(url, {"q": call_id})
    skipped = admin_client.get(url, {"status__exact": "skipped", "error_code__exact": "no_recording"})

    assert found.context["cl"].result_count == 1
    assert skipped.context["cl"].result_count == 6


def test_numbers_are_masked_when_pii_masking_is_on(viewer_client, exported, fake_b24, settings):
    settings.APP_CONFIG = dataclasses.replace(settings.APP_CONFIG, pii_masking_enabled=True)
    number = fake_b24.items[3]["PHONE_NUMBER"]

    body = viewer_client.get(reverse("admin:calls_callrecord_changelist")).content.decode()
    record = CallRecord.objects.get(call_id=fake_b24.items[3]["CALL_ID"])
    page = viewer_client.get(reverse("admin:calls_callrecord_change", args=[record.pk])).content.decode()

    assert number not in body and number not in page
    assert "+7***" in body


def test_the_unmasked_pii_permission_shows_full_numbers(admin_client, exported, fake_b24, settings):
    settings.APP_CONFIG = dataclasses.replace(settings.APP_CONFIG, pii_masking_enabled=True)

    body = admin_client.get(reverse("admin:calls_callrecord_changelist")).content.decode()

    assert fake_b24.items[3]["PHONE_NUMBER"] in body


def test_numbers_are_shown_in_full_without_masking(admin_client, exported, fake_b24):
    body = admin_client.get(reverse("admin:calls_callrecord_changelist")).content.decode()

    assert fake_b24.items[3]["PHONE_NUMBER"] in body


def test_the_record_page_plays_audio_through_the_authenticated_view(admin_client, exported, fake_b24):
    record = CallRecord.objects.get(call_id=fake_b24.items[0]["CALL_ID"])
    audio_url = reverse("admin:calls_callrecord_audio", args=[record.pk])

    page = admin_client.get(reverse("admin:calls_callrecord_change", args=[record.pk])).content.decode()
    audio = admin_client.get(audio_url)

    assert f'<audio controls preload="metadata" src="{audio_url}">' in page
    assert record.recording_url not in page.split("<audio")[1].split("</audio>")[0]
    assert audio.status_code == 200
    assert audio["Content-Type"] == "audio/wav"
    assert b"".join(audio.streaming_content) == wav_bytes(0)


def test_staff_with_view_permission_may_listen(viewer_client, exported, fake_b24):
    record = CallRecord.objects.get(call_id=fake_b24.items[0]["CALL_ID"])

    response = viewer_client.get(reverse("admin:calls_callrecord_audio", args=[record.pk]))

    assert response.status_code == 200


def test_anonymous_users_cannot_fetch_audio(client, exported, fake_b24):
    record = CallRecord.objects.get(call_id=fake_b24.items[0]["CALL_ID"])

    response = client.get(reverse("admin:calls_callrecord_audio", args=[record.pk]))

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_staff_without_permission_cannot_fetch_audio(client, exported, fake_b24):
    client.force_login(get_user_model().objects.create_user("nobody", password="pw", is_staff=True))
    record = CallRecord.objects.get(call_id=fake_b24.items[0]["CALL_ID"])

    response = client.get(reverse("admin:calls_callrecord_audio", args=[record.pk]))

    assert response.status_code in (403, 404)


def test_the_retry_download_action_requeues_missing_audio(admin_client, exported, django_capture_on_commit_callbacks):
    record = CallRecord.objects.filter(storage_path=None, status="skipped").first()
    CallRecord.objects.filter(pk=record.pk).update(status="missing_audio", download_attempts=5, error_code="http_404")

    with mock.patch("calls.tasks.async_task") as queued:
        admin_client.post(
            reverse("admin:calls_callrecord_changelist"), {"action": "retry_download", "_selected_action": [record.pk]}
        )

    record.refresh_from_db()
    assert (record.status, record.download_attempts, record.error_code) == ("pending", 0, None)
    assert queued.call_count == 1
