"""``manage.py seed_demo``: demo data of every app, a staff account, idempotent, refusing bad input."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from math import ceil
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from calls.demo import seed_calls
from calls.models import (
    MAX_DOWNLOAD_ATTEMPTS,
    CallExport,
    CallExportStatus,
    CallRecord,
    CallRecordStatus,
    Transcript,
    TranscriptionJob,
    TranscriptionJobStatus,
)
from couriers.models import CourierStock, Order, OrderStatus, OrderStatusLog
from integrations.outbox.models import OutboxEvent
from returns.models import Courier, Return, ReturnLine

pytestmark = pytest.mark.django_db
PASSWORD = re.compile(r"one-time password: (\S+)")


@pytest.fixture(autouse=True)
def storage_dir(tmp_path, settings):
    location = tmp_path / "storage"
    settings.STORAGES = {
        **django_settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": location}},
    }
    return location


def seed(*arguments: str) -> str:
    out = StringIO()
    call_command("seed_demo", *arguments, stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    models = (Courier, Return, ReturnLine, Order, OrderStatusLog, CourierStock, CallExport, CallRecord, Transcript)
    return {model.__name__: model.objects.count() for model in (*models, TranscriptionJob, get_user_model())}


def test_it_creates_couriers_and_returns_with_lines():
    seed()

    assert Courier.objects.count() == 3
    assert Return.objects.count() == 4
    assert ReturnLine.objects.count() == 5
    assert Return.objects.filter(courier_id="courier-777").exists()  # shows the "unknown courier" filter


def test_the_couriers_and_customers_have_russian_names_and_moscow_numbers():
    seed()

    assert Courier.objects.get(pk="courier-001").display_name == "Иван Петров"
    assert all(re.fullmatch(r"[А-ЯЁа-яё ]+", name) for name in Courier.objects.values_list("display_name", flat=True))
    assert all(
        (phone or "").startswith(("+7495", "+7499", "+790"))
        for phone in Order.objects.values_list("customer_phone", flat=True)
    )


def test_every_order_state_is_there_with_its_status_log():
    seed()

    assert set(Order.objects.values_list("status", flat=True)) == set(OrderStatus.values)
    done = Order.objects.get(status=OrderStatus.DONE)
    assert list(done.status_log.values_list("to_status", flat=True)) == ["NEW", "ASSIGNED", "IN_TRANSIT", "DONE"]
    assert done.paid_amount == done.total_amount


def test_the_orders_went_through_the_services_so_the_outbox_has_their_events():
    seed()

    assert OutboxEvent.objects.filter(aggregate_id="ww-demo-004").count() >= 3


def test_every_call_status_is_there_with_eight_calls():
    seed("--calls", "8")

    assert set(CallRecord.objects.values_list("status", flat=True)) == set(CallRecordStatus.values)


def test_without_calls_no_call_records_are_made():
    seed()

    assert not CallRecord.objects.exists()
    assert not CallExport.objects.exists()


def test_completed_calls_have_a_russian_transcript_in_storage_and_a_cost_by_the_started_minute(storage_dir):
    seed("--calls", "8")

    record = CallRecord.objects.get(status=CallRecordStatus.COMPLETED)
    rate = django_settings.APP_CONFIG.whisper_rate_per_min_usd
    assert record.transcription_cost == ceil(record.duration_sec / 60) * rate
    assert isinstance(record.transcription_cost, Decimal)
    stored = (storage_dir / record.transcript_path).read_text(encoding="utf-8")
    assert f"CALL_ID: {record.call_id}" in stored
    assert "Оператор:" in stored and "Клиент:" in stored
    assert record.transcript.text_full in stored
    job = TranscriptionJob.objects.get(call_record=record)
    assert (job.status, job.cost, job.billable_minutes) == (
        TranscriptionJobStatus.SUCCEEDED,
        record.transcription_cost,
        ceil(record.duration_sec / 60),
    )


def test_the_completed_run_counts_its_records_and_has_its_registry_and_report(storage_dir):
    seed("--calls", "16")

    run = CallExport.objects.get(status=CallExportStatus.COMPLETED)
    assert run.total_calls == run.processed_calls == run.records.count() == 8
    assert run.total_cost == sum(run.records.values_list("transcription_cost", flat=True), Decimal(0)).quantize(
        Decimal("0.01")
    )
    assert list(storage_dir.glob("exports/*/registry/calls_*.csv"))
    assert list(storage_dir.glob("exports/*/reports/summary_*.md"))


def test_open_calls_belong_to_a_cancelled_run_so_no_worker_moves_them():
    seed("--calls", "8")

    open_statuses = {CallRecordStatus.PENDING, CallRecordStatus.DOWNLOADING, CallRecordStatus.DOWNLOADED}
    runs = set(CallRecord.objects.filter(status__in=open_statuses).values_list("run__status", flat=True))
    assert runs == {CallExportStatus.CANCELLED}


def test_running_it_twice_adds_nothing():
    seed("--calls", "16")
    first = counts()

    output = seed("--calls", "16")

    assert counts() == first
    assert "call records: 0 created, 16 already there" in output
    assert "Walking Warehouse orders: 0 created, 6 already there" in output


def test_a_larger_calls_count_adds_up_to_that_total():
    seed("--calls", "10")

    output = seed("--calls", "20")

    assert CallRecord.objects.count() == 20
    assert "call records: 10 created, 10 already there" in output


def printed_password(output: str) -> str:
    found = PASSWORD.search(output)
    assert found is not None, output
    return found.group(1)


def test_it_creates_a_superuser_and_prints_its_password_once():
    output = seed()

    password = printed_password(output)
    user = get_user_model().objects.get(username="demo-admin")
    assert user.is_staff and user.is_superuser
    assert user.check_password(password)
    assert "change it" in output


def test_a_second_run_keeps_the_password_and_says_the_user_exists():
    password = printed_password(seed())

    output = seed()

    assert not PASSWORD.search(output)
    assert "demo-admin: already there" in output
    assert get_user_model().objects.get(username="demo-admin").check_password(password)


def test_reset_password_gives_the_existing_user_a_new_one():
    old = printed_password(seed("--staff-username", "ops"))

    new = printed_password(seed("--staff-username", "ops", "--reset-password"))

    assert new != old
    assert get_user_model().objects.get(username="ops").check_password(new)


@pytest.mark.parametrize("value", ["-1", "ten", "10001"])
def test_a_bad_calls_count_is_refused_and_writes_nothing(value):
    with pytest.raises(CommandError, match="--calls must be"):
        seed("--calls", value)

    assert not Courier.objects.exists()
    assert not get_user_model().objects.exists()


def test_it_prints_the_admin_pages_to_look_at():
    output = seed()

    assert "/admin/calls/callrecord/" in output
    assert "/admin/couriers/order/" in output
    assert "/admin/returns/return/" in output


def test_calls_fall_in_the_call_centres_hours_inside_their_runs_period():
    seed("--calls", "24")

    zone = ZoneInfo(django_settings.APP_CONFIG.call_export_timezone)
    for record in CallRecord.objects.select_related("run"):
        started, run = record.call_started_at, record.run
        assert started is not None and run.period_from is not None and run.period_to is not None
        assert 9 <= started.astimezone(zone).hour < 20
        assert run.period_from <= started <= min(run.period_to, timezone.now())


def test_attempt_counters_match_how_each_record_got_its_status():
    seed("--calls", "8")

    retries = len(django_settings.APP_CONFIG.stt_retry_delays_s) + 1
    missing = CallRecord.objects.get(status=CallRecordStatus.MISSING_AUDIO)
    failed = CallRecord.objects.get(status=CallRecordStatus.ERROR)
    assert missing.download_attempts == MAX_DOWNLOAD_ATTEMPTS
    assert (failed.download_attempts, failed.stt_attempts, failed.attempts) == (1, retries, 1 + retries)
    assert TranscriptionJob.objects.get(call_record=failed).attempts == retries


def test_from_the_shell_a_negative_calls_count_exits_non_zero_with_the_message(tmp_path):
    database = tmp_path / "untouched.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", "LOCAL_STORAGE_DIR": str(tmp_path / "storage")}

    done = subprocess.run(
        [sys.executable, "manage.py", "seed_demo", "--calls", "-1"],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode != 0
    assert "--calls must be between 0 and 10000, not -1" in done.stderr
    assert not database.exists()


def test_calls_added_a_week_later_still_fall_inside_their_runs_period():
    seed_calls(total=8, now=timezone.now() - timedelta(days=10))

    seed_calls(total=16)

    for record in CallRecord.objects.select_related("run"):
        started, run = record.call_started_at, record.run
        assert started is not None and run.period_from is not None and run.period_to is not None
        assert run.period_from <= started <= run.period_to
