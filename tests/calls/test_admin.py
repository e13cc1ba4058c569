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
    assert run.actor is not None
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
    skipped = admin_client.get(url, {"status__exact": "skipped", "error_code": "no_recording"})

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


def test_the_retry_download_action_requeues_a_failed_download_and_refuses_missing_audio(
    admin_client, exported, django_capture_on_commit_callbacks
):
    failed, missing = CallRecord.objects.filter(storage_path=None, status="skipped")[:2]
    CallRecord.objects.filter(pk=failed.pk).update(status="error", download_attempts=5, error_code="max_attempts")
    CallRecord.objects.filter(pk=missing.pk).update(status="missing_audio", download_attempts=5, error_code="http_404")

    with mock.patch("calls.tasks.async_task") as queued, django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:calls_callrecord_changelist"),
            {"action": "retry_download", "_selected_action": [failed.pk, missing.pk]},
            follow=True,
        )

    failed.refresh_from_db()
    missing.refresh_from_db()
    assert (failed.status, failed.download_attempts) == ("error", 0)
    assert not failed.is_final
    # CALL-11: missing_audio is final; the action says so instead of moving it.
    assert (missing.status, missing.download_attempts) == ("missing_audio", 5)
    assert [c.args[1] for c in queued.call_args_list] == [failed.pk]
    shown = [str(m) for m in response.context["messages"]]
    assert any("1" in m for m in shown) and len(shown) == 2


def stored_record(exported, fake_b24) -> CallRecord:
    return CallRecord.objects.get(call_id=fake_b24.items[0]["CALL_ID"])


def test_the_audio_view_answers_a_byte_range_with_206(admin_client, exported, fake_b24):
    record = stored_record(exported, fake_b24)
    audio_url = reverse("admin:calls_callrecord_audio", args=[record.pk])
    whole = wav_bytes(0)

    ranged = admin_client.get(audio_url, HTTP_RANGE="bytes=100-199")
    tail = admin_client.get(audio_url, HTTP_RANGE="bytes=-10")
    beyond = admin_client.get(audio_url, HTTP_RANGE=f"bytes={len(whole)}-")

    assert ranged.status_code == 206
    assert ranged["Content-Range"] == f"bytes 100-199/{len(whole)}"
    assert (ranged["Content-Type"], ranged["Accept-Ranges"], ranged["Content-Length"]) == ("audio/wav", "bytes", "100")
    assert b"".join(ranged.streaming_content) == whole[100:200]
    assert b"".join(tail.streaming_content) == whole[-10:]
    assert beyond.status_code == 416
    assert beyond["Content-Range"] == f"bytes */{len(whole)}"


def test_record_and_run_pages_only_show_and_name_the_run_once(admin_client, exported, fake_b24):
    record = stored_record(exported, fake_b24)

    record_page = admin_client.get(reverse("admin:calls_callrecord_change", args=[record.pk])).content.decode()
    run_page = admin_client.get(reverse("admin:calls_callexport_change", args=[exported.pk])).content.decode()

    for page in (record_page, run_page):
        assert 'name="_save"' not in page and "<textarea" not in page and "<select" not in page
    assert record_page.count(reverse("admin:calls_callexport_change", args=[exported.pk])) == 1
    assert "<h1>Запись звонка</h1>" in record_page


def test_the_run_page_shows_honest_counters_when_transcription_is_off(admin_client, exported):
    page = admin_client.get(reverse("admin:calls_callexport_change", args=[exported.pk])).content.decode()

    exported.refresh_from_db()
    stored = CallRecord.objects.filter(run=exported, storage_path__isnull=False).count()
    assert stored > 0 and exported.downloaded_calls == stored
    assert exported.skipped_by_reason["stt_disabled"] == stored
    assert sum(exported.skipped_by_reason.values()) == exported.skipped_calls
    assert f"расшифровка выключена — {stored}" in page
    assert f"в Битрикс24 нет записи — {exported.skipped_by_reason['no_recording']}" in page


def test_a_failed_run_shows_its_reason_on_its_page(admin_client, b24_config):
    run, _ = services.call_export_start(period_from=datetime(2026, 9, 1, tzinfo=UTC), period_to=datetime.now(UTC))
    services.call_export_list(run=run)  # moves it in progress
    services.call_export_fail(run=run, reason=f"listing failed: token {b24_config.b24_webhook_token} refused")

    page = admin_client.get(reverse("admin:calls_callexport_change", args=[run.pk])).content.decode()

    assert "mm-error-box" in page and "listing failed: token *** refused" in page
    assert b24_config.b24_webhook_token not in page


def test_opening_add_pages_by_url_explains_why_they_are_refused(admin_client):
    run_page = admin_client.get(reverse("admin:calls_callexport_add"))
    record_page = admin_client.get(reverse("admin:calls_callrecord_add"))

    assert run_page.status_code == record_page.status_code == 403
    assert "Запустить выгрузку" in run_page.content.decode()
    assert "приходят из Битрикс24" in record_page.content.decode()
    assert "MasterMobile" in record_page.content.decode()  # the admin's own frame, not a bare 403


def test_the_start_form_offers_the_default_period_in_the_date_pickers_format(admin_client, b24_config):
    page = admin_client.get(reverse("admin:calls_callexport_start")).content.decode()

    first, last = services.default_period()
    assert f'type="date" name="period_from" value="{first:%Y-%m-%d}"' in page
    assert f'type="date" name="period_to" value="{last:%Y-%m-%d}"' in page
    assert "admin/css/forms" in page
