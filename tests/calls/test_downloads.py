"""Recording downloads: states, retries across attempts, storage keys and backends (CALL-16, STT-20…STT-23)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from unittest import mock

import pytest
from django.core.files.storage import storages

from calls import downloads, services
from calls.models import CallExport, CallExportStatus, CallRecord, TranscriptionJob
from calls.storage import audio_key, sanitise, save_stream, transcript_key
from integrations.stt import AudioInfo
from tests.fakes.audio import wav_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def listed(b24_config, fake_b24):
    """A run whose listing is done and whose records wait for their downloads."""
    run, _ = services.call_export_start(period_from=datetime(2000, 1, 1, tzinfo=UTC), period_to=datetime.now(UTC))
    services.call_export_list(run=run)
    return run


def record_of(fake, index: int) -> CallRecord:
    return CallRecord.objects.get(call_id=fake.items[index]["CALL_ID"])


def download(record: CallRecord) -> downloads.DownloadOutcome:
    return downloads.record_download(record_id=record.pk)


def test_a_download_stores_the_audio_under_its_key_with_its_checksum(listed, fake_b24, storage_dir):
    record = record_of(fake_b24, 0)

    outcome = download(record)

    record.refresh_from_db()
    assert outcome.status == "skipped" and record.error_code == "stt_disabled"
    assert record.storage_path == audio_key(
        call_id=record.call_id,
        record_id=record.record_id,
        recording_url=record.recording_url,
        call_started_at=record.call_started_at,
        extension=".wav",
    )
    # STT-20: the extension, format and length come from the bytes, not from a fixed ".mp3".
    assert record.storage_path.endswith(".wav")
    assert (record.audio_format, record.audio_codec) == ("wav", "pcm_s16le")
    assert record.audio_duration_sec == pytest.approx(0.25, abs=0.01)
    assert (storage_dir / record.storage_path).read_bytes() == wav_bytes(0)
    assert record.checksum == hashlib.sha256(wav_bytes(0)).hexdigest()
    assert not [p for p in storage_dir.rglob(".*.part")]


def test_a_download_leaves_records_downloaded_when_stt_is_enabled(listed, fake_b24, settings):
    import dataclasses

    settings.APP_CONFIG = dataclasses.replace(settings.APP_CONFIG, openai_api_key="sk-test", stt_max_file_minutes=60)

    record = record_of(fake_b24, 0)
    outcome = download(record)

    assert (outcome.status, outcome.error_code) == ("downloaded", None)
    # Its transcription job exists from the same transaction on (CALL-16).
    job = TranscriptionJob.objects.get(call_record=record)
    assert (job.status, job.engine, job.attempts) == ("queued", "openai-whisper", 0)
    # The job shows the URL (admin, dead-letter API) with its access key masked.
    assert record.recording_url is not None
    assert job.recording_url == record.recording_url.replace(fake_b24.access_key, "***")


def test_a_recording_over_the_duration_limit_is_skipped_without_a_job(listed, fake_b24, settings):
    import dataclasses

    settings.APP_CONFIG = dataclasses.replace(settings.APP_CONFIG, openai_api_key="sk-test", stt_max_file_minutes=60)
    record = record_of(fake_b24, 0)
    CallRecord.objects.filter(pk=record.pk).update(duration_sec=10)
    with mock.patch("calls.downloads.probe") as probe:
        probe.return_value = AudioInfo("wav", "pcm_s16le", 1, 8000, 61 * 60.0, ".wav")
        outcome = download(record)

    record.refresh_from_db()
    assert (outcome.status, outcome.error_code) == ("skipped", "duration_limit_exceeded")
    assert "61.0 min" in record.error_message and record.storage_path
    assert not TranscriptionJob.objects.filter(call_record=record).exists()


def test_a_stored_recording_is_not_downloaded_again(listed, fake_b24):
    record = record_of(fake_b24, 0)
    download(record)
    before = fake_b24.count("recording")

    download(record)

    assert fake_b24.count("recording") == before
    record.refresh_from_db()
    assert record.download_attempts == 1


@pytest.mark.parametrize("status", ["404", "403"])
def test_a_missing_recording_is_retried_across_attempts_then_marked_missing_audio(listed, fake_b24, status):
    record = record_of(fake_b24, 0)
    fake_b24.recording_faults[record.call_id] = status

    outcomes = [download(record) for _ in range(5)]

    assert [o.status for o in outcomes] == ["error"] * 4 + ["missing_audio"]
    assert {o.error_code for o in outcomes} == {f"http_{status}"}
    assert fake_b24.count("recording", path_contains=record.record_id) == 5  # never retried inside an attempt
    record.refresh_from_db()
    assert record.is_final and record.download_attempts == 5
    assert download(record).status == "missing_audio"


@pytest.mark.parametrize("kind", ["html", "empty"])
def test_an_html_or_empty_body_is_invalid_audio_and_not_stored(listed, fake_b24, storage_dir, kind):
    record = record_of(fake_b24, 0)
    fake_b24.recording_faults[record.call_id] = kind

    outcome = download(record)

    assert (outcome.status, outcome.error_code) == ("error", "invalid_audio")
    record.refresh_from_db()
    assert record.storage_path is None and record.checksum is None
    assert not [p for p in storage_dir.rglob("*") if p.is_file()]


def test_server_errors_are_retried_within_the_attempt(listed, fake_b24):
    record = record_of(fake_b24, 0)
    fake_b24.fail_next("500", times=2, match=record.call_id)

    outcome = download(record)

    assert outcome.status == "skipped"
    assert fake_b24.count("recording", path_contains=record.record_id) == 3


def test_five_failed_attempts_for_other_reasons_end_in_max_attempts(listed, fake_b24):
    record = record_of(fake_b24, 0)
    fake_b24.fail_next("500", times=100, match=record.call_id)

    outcomes = [download(record) for _ in range(6)]

    assert [o.error_code for o in outcomes] == ["http_500"] * 4 + ["max_attempts"] * 2
    record.refresh_from_db()
    assert record.is_final
    assert record.error_message.startswith("http_500:")


def test_a_download_refused_by_the_open_circuit_gives_its_attempt_back(listed, fake_b24, open_circuit):
    record = record_of(fake_b24, 0)
    open_circuit()
    before = fake_b24.count()

    outcome = download(record)

    # CALL-11 has no downloading → pending: the record waits as a retryable error, its attempt given back.
    assert outcome.status == "error"
    assert fake_b24.count() == before
    record.refresh_from_db()
    assert (record.status, record.download_attempts, record.attempts, record.error_code) == (
        "error",
        0,
        0,
        "integration.unavailable",
    )
    assert not record.is_final


def test_a_failed_record_refused_by_the_open_circuit_keeps_its_retry_schedule(listed, fake_b24, open_circuit):
    record = record_of(fake_b24, 0)
    fake_b24.fail_next("500", times=5, match=record.call_id)
    download(record)
    record.refresh_from_db()
    failed_at = record.last_attempt_at
    open_circuit()

    outcome = download(record)

    assert (outcome.status, outcome.error_code) == ("error", "http_500")
    record.refresh_from_db()
    assert (record.status, record.download_attempts, record.last_attempt_at) == ("error", 1, failed_at)


def test_a_call_without_a_recording_is_skipped_at_listing(listed, fake_b24):
    record = record_of(fake_b24, 7)

    assert (record.status, record.error_code) == ("skipped", "no_recording")
    assert download(record).error_code == "no_recording"
    assert fake_b24.count("recording") == 0


def test_an_authentication_failure_fails_the_run(listed, fake_b24):
    record = record_of(fake_b24, 8)  # disk file only: needs disk.file.get
    fake_b24.fail_next("expired_token", match="disk.file.get")

    outcome = download(record)

    assert outcome.error_code == "b24_auth_failed"
    assert CallExport.objects.get().status == CallExportStatus.ERROR


def test_a_storage_failure_is_a_storage_error(listed, fake_b24, storage_dir):
    storage_dir.mkdir(parents=True, exist_ok=True)
    (storage_dir / "raw").write_text("a file where a directory should be")

    outcome = download(record_of(fake_b24, 0))

    assert (outcome.status, outcome.error_code) == ("error", "storage_error")


def test_downloads_count_against_the_download_rate_limit_not_the_rest_one(listed, fake_b24, settings):
    import dataclasses

    settings.APP_CONFIG = dataclasses.replace(settings.APP_CONFIG, b24_rate_limit_rps=1000, b24_download_rate_rps=1000)
    from integrations.models import TokenBucket

    download(record_of(fake_b24, 0))

    assert TokenBucket.objects.filter(value__startswith="b24-download:").exists()
    assert not TokenBucket.objects.filter(value__startswith="b24:").exists()


def test_keys_follow_the_layout_and_fall_back_to_hashes():
    started = datetime(2026, 9, 1, 23, 30, tzinfo=UTC)
    url_hash = hashlib.sha256(b"https://portal/rec/1").hexdigest()
    call_hash = hashlib.sha256(b"c/1").hexdigest()

    assert audio_key(call_id="c1", record_id="55", recording_url="u", call_started_at=started) == (
        "raw/2026/09/01/call_c1_55.mp3"
    )
    assert audio_key(call_id="c1", record_id=None, recording_url="https://portal/rec/1", call_started_at=started) == (
        f"raw/2026/09/01/call_c1_{url_hash}.mp3"
    )
    assert audio_key(call_id="c/1", record_id=None, recording_url=None, call_started_at=started) == (
        f"raw/2026/09/01/call_c-1_{call_hash}.mp3"
    )
    assert transcript_key(call_id="c1", record_id="55", recording_url=None, call_started_at=started) == (
        "transcripts/2026/09/01/call_c1_55.txt"
    )


def test_sanitising_keeps_keys_inside_the_storage_root():
    assert sanitise("../escape/../../call") == "escape-------call"
    assert sanitise("__--") == hashlib.sha256(b"__--").hexdigest()
    assert ".." not in audio_key(call_id="../../etc", record_id="../x", recording_url=None, call_started_at=None)


def test_s3_and_local_storage_use_identical_keys(b24_config, fake_b24, tmp_path, settings, s3_storage):
    s3_settings = settings.STORAGES
    run, _ = services.call_export_start(period_from=datetime(2000, 1, 1, tzinfo=UTC), period_to=datetime.now(UTC))
    services.call_export_process(run=run)
    s3_keys = dict(CallRecord.objects.exclude(storage_path=None).values_list("call_id", "storage_path"))
    objects = s3_storage.list_objects_v2(Bucket="recordings", Prefix="raw/")["Contents"]

    CallRecord.objects.all().delete()
    CallExport.objects.all().delete()
    settings.STORAGES = {
        **s3_settings,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": tmp_path / "l"}},
    }
    run, _ = services.call_export_start(period_from=datetime(2000, 1, 1, tzinfo=UTC), period_to=datetime.now(UTC))
    services.call_export_process(run=run)
    local_keys = dict(CallRecord.objects.exclude(storage_path=None).values_list("call_id", "storage_path"))

    assert len(s3_keys) == 54
    assert s3_keys == local_keys
    assert sorted(o["Key"] for o in objects) == sorted(key for key in s3_keys.values() if key is not None)
    assert all((tmp_path / "l" / key).is_file() for key in local_keys.values())


def test_s3_objects_hold_the_audio_encrypted_at_rest(s3_storage):
    stored = save_stream("raw/2026/09/01/call_c1_1.mp3", [wav_bytes(3)], storage=storages["default"])

    head = s3_storage.head_object(Bucket="recordings", Key=stored.key)
    body = s3_storage.get_object(Bucket="recordings", Key=stored.key)["Body"].read()
    assert body == wav_bytes(3)
    assert stored.sha256 == hashlib.sha256(body).hexdigest()
    assert head["ServerSideEncryption"] == "AES256"


def test_a_failed_download_keeps_the_recording_urls_access_key_out_of_the_record_the_audit_and_the_logs(
    listed, fake_b24, caplog
):
    from integrations.models import IntegrationLog

    record = record_of(fake_b24, 0)
    assert fake_b24.access_key in (record.recording_url or "")  # the real-portal shape: …&auth=<key>
    fake_b24.recording_faults[record.call_id] = "404"

    with caplog.at_level("DEBUG"):
        outcome = download(record)

    record.refresh_from_db()
    assert outcome.error_code == "http_404"
    assert "auth=***" in record.error_message and fake_b24.access_key not in record.error_message
    endpoints = list(
        IntegrationLog.objects.filter(endpoint__contains="downloadFile").values_list("endpoint", flat=True)
    )
    assert endpoints and all("auth=***" in endpoint for endpoint in endpoints)
    assert not IntegrationLog.objects.filter(endpoint__contains=fake_b24.access_key).exists()
    assert caplog.records and fake_b24.access_key not in caplog.text
