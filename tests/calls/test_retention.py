"""Retention: what a sweep deletes, on both backends, and what the database keeps (STT-30…STT-32)."""

from __future__ import annotations

import dataclasses
import io
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError
from django.core.files.storage import storages
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_q.models import Schedule

from calls import downloads, retention, services, tasks
from calls.models import CallExport, CallRecord, CallSummary, Transcript
from tests.processes import free_port, manage, process_env

pytestmark = pytest.mark.django_db

# STT-30's defaults; tests change one window at a time.
WINDOWS = {"raw": 90, "transcripts": 180, "summaries": 180, "registry": 365, "reports": 180, "logs": 180}


def s3_events() -> Any:
    """The botocore event hooks of the default storage, an S3Storage (django-storages has no types)."""
    storage: Any = storages["default"]
    return storage.connection.meta.client.meta.events


def put(root: Path, key: str | None, *, days_old: float, body: bytes = b"x") -> Path:
    """A file under the local storage root whose mtime is ``days_old`` days ago (a record's path, which it has)."""
    assert key is not None
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    stamp = (timezone.now() - timedelta(days=days_old)).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def remaining(root: Path) -> set[str]:
    return {path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file()}


def sweep(**kwargs) -> retention.CleanupResult:
    return retention.storage_cleanup(windows={**WINDOWS, **kwargs.pop("windows", {})}, **kwargs)


@pytest.fixture
def run() -> CallExport:
    return CallExport.objects.create(
        period_from=datetime(2026, 1, 1, tzinfo=UTC), period_to=datetime(2026, 1, 31, tzinfo=UTC)
    )


def make_record(run: CallExport, call_id: str, **fields) -> CallRecord:
    return CallRecord.objects.create(
        run=run,
        call_id=call_id,
        direction="inbound",
        from_number="+79160000001",
        to_number="+74950000000",
        duration_sec=10,
        **fields,
    )


def make_transcript(record: CallRecord, *, days_old: float, rewritten_days_ago: float | None = None) -> Transcript:
    transcript = Transcript.objects.create(
        call_record=record, text_full="Добрый день", text_normalized="добрый день", metadata={"engine": "stub"}
    )
    created = timezone.now() - timedelta(days=days_old)
    written = created if rewritten_days_ago is None else timezone.now() - timedelta(days=rewritten_days_ago)
    Transcript.objects.filter(pk=transcript.pk).update(created_at=created, updated_at=written)
    CallRecord.objects.filter(pk=record.pk).update(text_preview="Добрый день")
    return transcript


def test_expired_files_go_and_fresh_ones_stay_in_every_category(storage_dir):
    expired = {
        "raw/2025/01/01/call_1_1.mp3": 91,
        "transcripts/2025/01/01/call_1_1.txt": 181,
        "summaries/2025/01/01/call_1_20250101T000000Z.md": 181,
        "exports/2024-01-01_2024-01-31/registry/calls_2024-01-01_2024-01-31.csv": 366,
        "exports/2025-01-01_2025-01-31/reports/summary_2025-01-01_2025-01-31.md": 181,
        "exports/2025-01-01_2025-01-31/logs/call_export_20250201T000000Z.jsonl": 181,
    }
    fresh = {
        "raw/2025/04/01/call_2_2.mp3": 89,
        "transcripts/2025/04/01/call_2_2.txt": 179,
        "summaries/2025/04/01/call_2_20250401T000000Z.md": 179,
        "exports/2025-01-01_2025-01-31/registry/calls_2025-01-01_2025-01-31.csv": 364,
        "exports/2025-06-01_2025-06-30/reports/summary_2025-06-01_2025-06-30.md": 179,
    }
    outside_the_layout = {
        "other/old.bin": 1000,
        "exports/.probe-1": 1000,
        "exports/2024-01-01_2024-01-31/notes.txt": 1000,
    }
    for key, days in {**expired, **fresh, **outside_the_layout}.items():
        put(storage_dir, key, days_old=days, body=b"12345")

    result = sweep()

    assert remaining(storage_dir) == set(fresh) | set(outside_the_layout)
    assert {name: counts.removed for name, counts in result.categories.items()} == dict.fromkeys(
        retention.CATEGORIES, 1
    )
    assert result.categories["raw"].bytes == 5
    assert (result.local_removed, result.s3_removed, result.total_removed, result.total_failed) == (6, 0, 6, 0)


def test_directories_left_empty_are_removed_and_the_prefixes_stay(storage_dir):
    put(storage_dir, "raw/2025/01/01/call_1_1.mp3", days_old=100)
    put(storage_dir, "raw/2025/01/02/call_2_2.mp3", days_old=1)
    put(storage_dir, "exports/2024-01-01_2024-01-31/logs/call_export_1.jsonl", days_old=200)

    sweep()

    assert not (storage_dir / "raw/2025/01/01").exists()
    assert (storage_dir / "raw/2025/01/02").is_dir()
    assert not (storage_dir / "exports/2024-01-01_2024-01-31").exists()
    assert (storage_dir / "raw").is_dir() and (storage_dir / "exports").is_dir()


def test_a_dry_run_counts_what_would_go_and_changes_nothing(storage_dir, run):
    record = make_record(run, "c1", storage_path="raw/2025/01/01/call_c1_1.mp3")
    put(storage_dir, record.storage_path, days_old=100)
    transcript = make_transcript(record, days_old=200)
    before = remaining(storage_dir)

    result = sweep(dry_run=True)

    record.refresh_from_db()
    transcript.refresh_from_db()
    assert remaining(storage_dir) == before
    assert (result.dry_run, result.total_removed, result.audio_purged, result.transcripts_purged) == (True, 1, 1, 1)
    assert record.audio_purged_at is None and record.text_preview == "Добрый день"
    assert (transcript.text_full, transcript.purged_at) == ("Добрый день", None)


def test_zero_days_keeps_that_category_and_its_database_text(storage_dir, run):
    put(storage_dir, "raw/2020/01/01/call_1_1.mp3", days_old=2000)
    put(storage_dir, "transcripts/2020/01/01/call_1_1.txt", days_old=2000)
    transcript = make_transcript(make_record(run, "c1"), days_old=2000)

    result = sweep(windows={"raw": 0, "transcripts": 0})

    transcript.refresh_from_db()
    assert remaining(storage_dir) == {"raw/2020/01/01/call_1_1.mp3", "transcripts/2020/01/01/call_1_1.txt"}
    assert (result.total_removed, result.transcripts_purged, transcript.purged_at) == (0, 0, None)


def test_one_file_that_cannot_be_deleted_does_not_stop_the_sweep(storage_dir, monkeypatch, caplog):
    for index in range(5):
        put(storage_dir, f"raw/2025/01/01/call_{index}_{index}.mp3", days_old=100)
    unlink = Path.unlink

    def refuse_one(path: Path, missing_ok: bool = False) -> None:
        if path.name == "call_2_2.mp3":
            raise PermissionError(13, "Permission denied", str(path))
        unlink(path, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", refuse_one)

    with caplog.at_level(logging.WARNING, logger="calls.retention"):
        result = sweep()

    assert remaining(storage_dir) == {"raw/2025/01/01/call_2_2.mp3"}
    assert (result.categories["raw"].removed, result.categories["raw"].failed) == (4, 1)
    failures = [r for r in caplog.records if getattr(r, "event", "") == "storage.cleanup_failed"]
    assert [(r.action, r.key) for r in failures] == [("delete", "raw/2025/01/01/call_2_2.mp3")]


def test_records_whose_audio_is_deleted_are_marked_purged(storage_dir, run):
    old = make_record(run, "old", storage_path="raw/2025/01/01/call_old_1.mp3", checksum="a" * 64)
    young = make_record(run, "young", storage_path="raw/2025/06/01/call_young_1.mp3", checksum="b" * 64)
    put(storage_dir, old.storage_path, days_old=91)
    put(storage_dir, young.storage_path, days_old=10)
    now = timezone.now()

    result = sweep(now=now)

    old.refresh_from_db()
    young.refresh_from_db()
    assert result.audio_purged == 1
    assert (old.audio_purged_at, young.audio_purged_at) == (now, None)
    # The key stays: it is the history the registry shows; the marker says the file is gone.
    assert old.storage_path == "raw/2025/01/01/call_old_1.mp3"


def test_a_purged_recording_is_never_downloaded_again(b24_config, fake_b24, storage_dir):
    run, _ = services.call_export_start(period_from=datetime(2000, 1, 1, tzinfo=UTC), period_to=datetime.now(UTC))
    services.call_export_list(run=run)
    record = CallRecord.objects.get(call_id=fake_b24.items[0]["CALL_ID"])
    downloads.record_download(record_id=record.pk)
    record.refresh_from_db()
    stamp = (timezone.now() - timedelta(days=100)).timestamp()
    os.utime(storage_dir / record.storage_path, (stamp, stamp))

    sweep()
    # A re-run that finds the record without audio would fetch it again, but for the marker.
    CallRecord.objects.filter(pk=record.pk).update(status="pending", checksum=None)
    downloads.record_download(record_id=record.pk)

    record.refresh_from_db()
    assert record.audio_purged_at is not None
    assert (record.status, record.download_attempts) == ("pending", 1)
    assert not (storage_dir / record.storage_path).exists()


def test_transcripts_past_their_window_lose_their_text_and_keep_a_marker(storage_dir, run):
    old_record, young_record = make_record(run, "old"), make_record(run, "young")
    old, young = make_transcript(old_record, days_old=181), make_transcript(young_record, days_old=179)
    now = timezone.now()

    result = sweep(now=now)

    for row in (old, young, old_record, young_record):
        row.refresh_from_db()
    assert result.transcripts_purged == 1
    assert (old.text_full, old.text_normalized, old.purged_at, old.metadata) == ("", None, now, {"engine": "stub"})
    assert (old_record.text_preview, young_record.text_preview) == ("", "Добрый день")
    assert (young.text_full, young.purged_at) == ("Добрый день", None)
    assert CallRecord.objects.count() == 2


def test_a_transcript_rewritten_by_a_re_transcription_counts_from_the_new_text(storage_dir, run):
    transcript = make_transcript(make_record(run, "c1"), days_old=400, rewritten_days_ago=10)

    result = sweep()

    transcript.refresh_from_db()
    assert (result.transcripts_purged, transcript.text_full, transcript.purged_at) == (0, "Добрый день", None)


def test_a_deleted_summary_file_empties_its_row_and_the_records_summary_key(storage_dir, run):
    key = "summaries/2025/01/01/call_c1_20250101T000000Z.md"
    record = make_record(run, "c1", summary_path=key)
    summary = CallSummary.objects.create(call_record=record, bullets=["Клиент спросил о заказе"], storage_path=key)
    put(storage_dir, key, days_old=181)

    result = sweep()

    record.refresh_from_db()
    summary.refresh_from_db()
    assert result.summaries_purged == 1
    assert (record.summary_path, summary.bullets, summary.storage_path) == (None, [], key)


def test_each_sweep_logs_its_counts(storage_dir, caplog):
    put(storage_dir, "raw/2025/01/01/call_1_1.mp3", days_old=100)

    with caplog.at_level(logging.INFO, logger="calls.retention"):
        sweep()

    (line,) = [r for r in caplog.records if getattr(r, "event", "") == "storage.cleanup"]
    assert (line.local_removed, line.s3_removed, line.total_removed) == (1, 0, 1)
    assert line.categories["raw"] == {"removed": 1, "failed": 0, "bytes": 1}


def test_the_command_prints_the_counts_per_category_and_the_totals(storage_dir):
    put(storage_dir, "raw/2025/01/01/call_1_1.mp3", days_old=100, body=b"abc")
    put(storage_dir, "exports/2024-01-01_2024-01-31/registry/calls.csv", days_old=400)
    out = io.StringIO()

    call_command("storage_cleanup", stdout=out)

    lines = out.getvalue().splitlines()
    assert "raw/                              1        0              3" in lines
    assert "exports/*/registry/               1        0              1" in lines
    assert "local_removed=2 s3_removed=0 total_removed=2 failed=0" in lines
    assert remaining(storage_dir) == set()


def test_the_command_dry_run_says_what_it_would_remove(storage_dir):
    put(storage_dir, "raw/2025/01/01/call_1_1.mp3", days_old=100)
    out = io.StringIO()

    call_command("storage_cleanup", "--dry-run", stdout=out)

    assert "would remove" in out.getvalue()
    assert "dry run: nothing was deleted or changed" in out.getvalue()
    assert remaining(storage_dir) == {"raw/2025/01/01/call_1_1.mp3"}


def test_the_command_fails_when_a_file_could_not_be_deleted(storage_dir, monkeypatch):
    put(storage_dir, "raw/2025/01/01/call_1_1.mp3", days_old=100)

    def refuse(path: Path, missing_ok: bool = False) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(Path, "unlink", refuse)

    with pytest.raises(CommandError, match="1 files could not be deleted"):
        call_command("storage_cleanup", stdout=io.StringIO())


def test_the_command_refuses_a_storage_root_that_is_not_a_directory(storage_dir):
    storage_dir.parent.mkdir(parents=True, exist_ok=True)
    storage_dir.write_text("not a directory")

    with pytest.raises(CommandError, match=r"storage is unavailable, .* is not a readable directory"):
        call_command("storage_cleanup", stdout=io.StringIO())


def test_a_storage_root_not_created_yet_has_nothing_to_clean(storage_dir):
    result = sweep()

    assert (result.total_removed, result.total_failed) == (0, 0)


def test_migrate_registers_the_cleanup_schedule_every_interval(settings):
    schedule = Schedule.objects.get(name="calls.cleanup_expired_assets")

    assert schedule.func == "calls.tasks.cleanup_expired_assets"
    assert (schedule.schedule_type, schedule.minutes) == (Schedule.MINUTES, 24 * 60)


def test_the_task_sweeps_with_the_configured_windows(storage_dir, settings):
    settings.APP_CONFIG = dataclasses.replace(settings.APP_CONFIG, raw_recording_retention_days=5)
    put(storage_dir, "raw/2025/01/01/call_1_1.mp3", days_old=6)
    put(storage_dir, "raw/2025/01/02/call_2_2.mp3", days_old=4)

    counts = tasks.cleanup_expired_assets()

    assert (counts["local_removed"], counts["total_removed"], counts["categories"]["raw"]["removed"]) == (1, 1, 1)
    assert remaining(storage_dir) == {"raw/2025/01/02/call_2_2.mp3"}


# S3: moto's server sets LastModified itself, so these tests move "now" forward instead.


def upload(client, keys: list[str]) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda key: client.put_object(Bucket="recordings", Key=key, Body=b"x"), keys))


def s3_keys(client) -> set[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket="recordings")
    return {item["Key"] for page in pages for item in page.get("Contents", ())}


def count_calls(operation: str) -> list[str]:
    """Each request the storage's own client sends for ``operation`` appends its name."""
    calls: list[str] = []
    events = s3_events()
    events.register(f"before-call.s3.{operation}", lambda **kwargs: calls.append(operation))
    return calls


def test_s3_pages_through_more_than_a_thousand_objects_and_deletes_in_batches(s3_storage, run):
    raw = [f"raw/2025/01/01/call_{index}_{index}.mp3" for index in range(1001)]
    kept = ["transcripts/2025/01/01/call_1_1.txt", "exports/2025-01-01_2025-01-31/registry/calls.csv"]
    upload(s3_storage, raw + kept)
    record = make_record(run, "1", storage_path=raw[1])
    listings, deletes = count_calls("ListObjectsV2"), count_calls("DeleteObjects")

    result = sweep(now=timezone.now() + timedelta(days=91))

    record.refresh_from_db()
    assert s3_keys(s3_storage) == set(kept)
    assert (result.backend, result.s3_removed, result.local_removed, result.total_removed) == ("s3", 1001, 0, 1001)
    assert len(deletes) == 2
    assert len(listings) == 2 + 3  # raw/ takes two pages of 1,000; transcripts/, summaries/ and exports/ one each
    assert record.audio_purged_at is not None


def test_s3_a_dry_run_deletes_nothing(s3_storage):
    upload(s3_storage, ["raw/2025/01/01/call_1_1.mp3", "summaries/2025/01/01/call_1_20250101T000000Z.md"])

    result = sweep(now=timezone.now() + timedelta(days=181), dry_run=True)

    assert result.total_removed == 2
    assert len(s3_keys(s3_storage)) == 2


def test_s3_one_key_refused_in_a_batch_does_not_stop_the_sweep(s3_storage, caplog):
    keys = [f"raw/2025/01/01/call_{index}_{index}.mp3" for index in range(3)]
    upload(s3_storage, keys)

    def refuse_one(parsed, **kwargs):
        parsed["Errors"] = [{"Key": keys[1], "Code": "AccessDenied", "Message": "Access Denied"}]

    s3_events().register("after-call.s3.DeleteObjects", refuse_one)

    with caplog.at_level(logging.WARNING, logger="calls.retention"):
        result = sweep(now=timezone.now() + timedelta(days=91))

    assert (result.categories["raw"].removed, result.categories["raw"].failed) == (2, 1)
    assert [r.key for r in caplog.records if getattr(r, "event", "") == "storage.cleanup_failed"] == [keys[1]]


def test_s3_a_refused_batch_does_not_stop_the_sweep(s3_storage, monkeypatch):
    monkeypatch.setattr(retention, "BATCH_SIZE", 2)
    upload(s3_storage, [f"raw/2025/01/01/call_{index}_{index}.mp3" for index in range(5)])
    refused: list[int] = []

    def refuse_the_first(**kwargs):
        if not refused:
            refused.append(1)
            raise EndpointConnectionError(endpoint_url="http://s3.invalid")

    s3_events().register("before-call.s3.DeleteObjects", refuse_the_first)

    result = sweep(now=timezone.now() + timedelta(days=91))

    assert (result.categories["raw"].removed, result.categories["raw"].failed) == (3, 2)
    assert len(s3_keys(s3_storage)) == 2


def test_an_unreachable_s3_is_a_clear_command_error(s3_storage, settings):
    options = settings.STORAGES["default"]["OPTIONS"]
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            **settings.STORAGES["default"],
            "OPTIONS": {
                **options,
                "endpoint_url": f"http://127.0.0.1:{free_port()}",
                "client_config": Config(retries={"max_attempts": 1}, connect_timeout=2),
            },
        },
    }

    with pytest.raises(CommandError, match=r"storage is unavailable, the sweep stopped: S3 bucket 'recordings'"):
        call_command("storage_cleanup", stdout=io.StringIO())


def test_the_command_exits_non_zero_when_s3_is_unreachable():
    env = process_env(
        STORAGE_BACKEND="s3",
        S3_BUCKET="recordings",
        S3_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}",
        S3_REGION="us-east-1",
        S3_ACCESS_KEY_ID="testing",
        S3_SECRET_ACCESS_KEY="testing",
        AWS_MAX_ATTEMPTS="1",
    )

    result = manage("storage_cleanup", env=env)

    assert result.returncode == 1
    assert "storage is unavailable, the sweep stopped: S3 bucket 'recordings' is unreachable" in result.stderr
    assert "Traceback" not in result.stderr
