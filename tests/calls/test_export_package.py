"""The export package written at the end of a run against the fake portal (EXP-07)."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.files.storage import storages
from django.core.management import call_command
from django_q import tasks as q_tasks

from calls import reports, services
from calls import tasks as call_tasks
from calls.models import CallExport, CallExportStatus, CallRecord
from calls.registry import REGISTRY_COLUMNS, registry_csv_chunks
from calls.reports import package_keys
from tests.calls.report_fixtures import add_record, make_run

pytestmark = pytest.mark.django_db

LOG_FIELDS = {"timestamp", "run_id", "call_id", "stage", "event", "duration_ms", "error_code"}


def export(*args: str) -> CallExport:
    call_command("call_export", *args, stdout=StringIO())
    return CallExport.objects.get()


def read(key: str) -> bytes:
    with storages["default"].open(key) as stored:
        return stored.read()


def assert_package_written(run: CallExport) -> None:
    keys = package_keys(run)
    registry = read(keys.registry)
    expected = b"".join(registry_csv_chunks(period_from=run.period_from, period_to=run.period_to, unmasked=False))
    assert registry == expected
    assert registry.decode("utf-8-sig").split("\r\n")[0] == ";".join(REGISTRY_COLUMNS)
    assert registry.count(b"\r\n") == CallRecord.objects.filter(call_started_at__isnull=False).count() + 1 > 1
    report = read(keys.report).decode("utf-8")
    assert f"run_id: `{run.run_id}`" in report
    assert "- Звонков в выгрузке Bitrix24: 60" in report
    lines = [json.loads(line) for line in read(keys.log).decode("utf-8").splitlines()]
    assert all(set(line) == LOG_FIELDS and line["run_id"] == str(run.run_id) for line in lines)
    stages = {line["stage"] for line in lines}
    assert {"fetch_calls", "download", "transcribe", "summary", "report"} <= stages
    assert lines[-1]["stage"] == "report"


def test_a_finished_run_writes_registry_report_and_log_to_local_storage(stt_config):
    run = export()

    assert run.status == CallExportStatus.COMPLETED
    assert run.package_built_at is not None and run.package_error == ""
    assert_package_written(run)


def test_a_finished_run_writes_its_package_to_s3(stt_config, s3_storage):
    run = export()

    assert_package_written(run)
    keys = {item["Key"] for item in s3_storage.list_objects_v2(Bucket="recordings", Prefix="exports/")["Contents"]}
    assert set(vars(package_keys(run)).values()) <= keys


def test_the_package_keys_follow_the_period_in_the_export_time_zone(stt_config):
    run = export("--from", "2026-03-01", "--to", "2026-03-07")

    keys = package_keys(run)
    assert keys.registry == "exports/2026-03-01_2026-03-07/registry/calls_2026-03-01_2026-03-07.csv"
    assert keys.report == "exports/2026-03-01_2026-03-07/reports/summary_2026-03-01_2026-03-07.md"
    assert keys.log.startswith("exports/2026-03-01_2026-03-07/logs/call_export_")
    assert keys.log.endswith(".jsonl")


def test_the_log_carries_no_phone_numbers(stt_config, fake_b24):
    run = export()

    log = read(package_keys(run).log).decode("utf-8")
    numbers = {item["PHONE_NUMBER"] for item in fake_b24.items if item.get("PHONE_NUMBER")}
    assert numbers and not any(number in log for number in numbers)


def test_the_run_keeps_the_listing_own_sum_of_seconds(stt_config, fake_b24):
    run = export()

    listed = sum(int(item["CALL_DURATION"]) for item in fake_b24.items)
    assert run.checkpoint["listed_duration_sec"] == listed


def test_a_failed_package_leaves_the_run_completed_and_says_why(stt_config, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(reports, "_write_registry", broken)

    run = export()

    assert run.status == CallExportStatus.COMPLETED
    assert run.package_built_at is None
    assert run.package_error == "OSError: disk full"


def test_a_dry_run_writes_no_package(stt_config):
    run = export("--dry-run")

    assert run.status == CallExportStatus.COMPLETED
    assert not storages["default"].exists(package_keys(run).report)


def test_a_run_closed_by_a_worker_queues_the_package_task_which_builds_it(
    storage_dir, monkeypatch, django_capture_on_commit_callbacks
):
    run = make_run(status=CallExportStatus.IN_PROGRESS, finished_at=None)
    add_record(run, "w1")
    queued = []
    monkeypatch.setattr(q_tasks, "async_task", lambda name, *args, **kwargs: queued.append((name, args)))

    with django_capture_on_commit_callbacks(execute=True):
        services.call_export_refresh(run=run)

    assert queued == [("calls.tasks.build_export_package", (str(run.run_id),))]
    assert not storages["default"].exists(package_keys(run).report)
    call_tasks.build_export_package(str(run.run_id))
    assert storages["default"].exists(package_keys(run).report)
