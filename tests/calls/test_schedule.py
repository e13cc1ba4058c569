"""The django-q2 schedules: daily polling of Bitrix24 and the run supervisor (OPS-11, CALL-17)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from unittest import mock

import pytest
from django.utils import timezone
from django_q.models import Schedule

from calls import services, tasks
from calls.models import CallExport, CallExportStatus, CallRecord

pytestmark = pytest.mark.django_db


def test_migrate_registers_the_daily_poll_and_the_supervisor(settings):
    poll = Schedule.objects.get(name="calls.poll_bitrix24")
    supervisor = Schedule.objects.get(name="calls.supervise_runs")

    assert (poll.func, poll.schedule_type, poll.cron) == (
        "calls.tasks.poll_bitrix24",
        Schedule.CRON,
        settings.APP_CONFIG.call_export_cron,
    )
    assert (supervisor.schedule_type, supervisor.minutes) == (Schedule.MINUTES, 1)


def test_the_poll_creates_one_cron_run_for_the_rolling_window(b24_config, django_capture_on_commit_callbacks):
    with mock.patch("django_q.tasks.async_task") as queued, django_capture_on_commit_callbacks(execute=True):
        first = tasks.poll_bitrix24()
        second = tasks.poll_bitrix24()

    run = CallExport.objects.get()
    assert first == second == str(run.run_id)
    assert (run.options["trigger"], run.actor, run.status) == ("cron", None, "pending")
    local_from, local_to = timezone.localtime(run.period_from), timezone.localtime(run.period_to)
    assert (local_to.date() - local_from.date()).days == b24_config.call_export_default_days
    assert (local_from.time(), local_to.time()) == (time(0, 0, 0), time(23, 59, 59))
    assert queued.call_count == 1


def test_a_queued_listing_task_queues_the_first_four_downloads(b24_config, fake_b24):
    run, _ = services.call_export_start(period_from=datetime(2000, 1, 1, tzinfo=UTC), period_to=datetime.now(UTC))

    with mock.patch("calls.tasks.async_task") as queued:
        tasks.list_calls(str(run.run_id))

    first_four = list(run.records.filter(status="pending").order_by("id").values_list("id", flat=True)[:4])
    assert [c.args[1] for c in queued.call_args_list] == first_four
    assert {c.args[0] for c in queued.call_args_list} == {"calls.tasks.download_recording"}


def test_the_supervisor_releases_stuck_records_retries_due_ones_and_closes_runs(b24_config, fake_b24):
    run, _ = services.call_export_start(period_from=datetime(2000, 1, 1, tzinfo=UTC), period_to=datetime.now(UTC))
    services.call_export_list(run=run)
    records = list(run.records.filter(status="pending").order_by("id"))
    stuck, due, not_due = records[0], records[1], records[2]
    long_ago = timezone.now() - timedelta(hours=1)
    CallRecord.objects.filter(pk=stuck.pk).update(
        status="downloading", download_attempts=1, last_attempt_at=long_ago, updated_at=long_ago
    )
    CallRecord.objects.filter(pk=due.pk).update(status="error", download_attempts=1, last_attempt_at=long_ago)
    CallRecord.objects.filter(pk=not_due.pk).update(status="error", download_attempts=2, last_attempt_at=timezone.now())

    with mock.patch("calls.tasks.async_task") as queued:
        tasks.supervise_runs()

    queued_ids = {c.args[1] for c in queued.call_args_list}
    stuck.refresh_from_db()
    # CALL-11 has no downloading → pending: the dead attempt counts and the record is retried as due.
    assert (stuck.status, stuck.error_code) == ("error", "stalled")
    assert {stuck.pk, due.pk} <= queued_ids and not_due.pk not in queued_ids

    for record in run.records.exclude(pk=not_due.pk).filter(status__in=["pending", "error"]):
        tasks.download_recording(record.pk)
    CallRecord.objects.filter(pk=not_due.pk).update(status="missing_audio", error_code="http_404")
    tasks.supervise_runs()

    run.refresh_from_db()
    assert run.status == CallExportStatus.COMPLETED
    assert (run.total_calls, run.processed_calls, run.missing_audio_calls) == (60, 60, 1)
