"""At most four downloads of one run at once, across worker processes; finished downloads hand their slot on (CALL-17)."""

from __future__ import annotations

import threading
from collections import deque
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.db import connection
from django.utils import timezone

from calls import downloads, services, tasks
from calls.models import CallExport, CallRecord

pytestmark = pytest.mark.django_db


def start_run() -> CallExport:
    run, _ = services.call_export_start(period_from=datetime(2000, 1, 1, tzinfo=UTC), period_to=datetime.now(UTC))
    return run


@pytest.fixture
def listed(b24_config, fake_b24) -> CallExport:
    run = start_run()
    services.call_export_list(run=run)
    return run


def pending_ids(run: CallExport) -> list[int]:
    return list(run.records.filter(status="pending").order_by("id").values_list("id", flat=True))


def mark_downloading(ids: list[int]) -> None:
    CallRecord.objects.filter(pk__in=ids).update(status="downloading", updated_at=timezone.now())


def queued_ids(queued: mock.Mock) -> list[int]:
    return [c.args[1] for c in queued.call_args_list]


def test_a_fifth_download_of_a_run_waits_for_a_free_slot(listed, fake_b24):
    ids = pending_ids(listed)
    mark_downloading(ids[:4])
    before = fake_b24.count()

    outcome = downloads.record_download(record_id=ids[4])

    assert (outcome.status, outcome.queue_next) == ("pending", False)
    assert fake_b24.count() == before
    record = CallRecord.objects.get(pk=ids[4])
    assert (record.status, record.download_attempts) == ("pending", 0)


def test_downloads_of_other_runs_do_not_use_the_slots(listed, fake_b24):
    ids = pending_ids(listed)
    other, _ = services.call_export_start(period_from=datetime(2001, 1, 1, tzinfo=UTC), period_to=datetime.now(UTC))
    CallRecord.objects.filter(pk__in=ids[:4]).update(run=other, status="downloading")

    outcome = downloads.record_download(record_id=ids[4])

    assert outcome.status == "skipped"  # downloaded; STT is off


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ten_simultaneous_downloads_of_a_run_hold_at_most_four_slots(b24_config, fake_b24, monkeypatch):
    run = start_run()
    services.call_export_list(run=run)
    ids = pending_ids(run)[:10]
    settled = threading.Condition()
    seen = {"settled": 0, "inside": 0, "peak": 0}
    release = threading.Event()
    start = threading.Barrier(len(ids))
    real_save = downloads.save_stream

    def held_save(key, chunks, **kwargs):
        downloading = CallRecord.objects.filter(run=run, status="downloading").count()
        with settled:
            seen["inside"] += 1
            seen["settled"] += 1
            seen["peak"] = max(seen["peak"], downloading)
            settled.notify_all()
        release.wait(timeout=30)
        return real_save(key, chunks, **kwargs)

    monkeypatch.setattr(downloads, "save_stream", held_save)
    outcomes: dict[int, downloads.DownloadOutcome] = {}

    def download(record_id: int) -> None:
        try:
            start.wait(timeout=30)
            outcome = downloads.record_download(record_id=record_id)
            outcomes[record_id] = outcome
            if not outcome.queue_next:
                with settled:
                    seen["settled"] += 1
                    settled.notify_all()
        finally:
            connection.close()

    threads = [threading.Thread(target=download, args=(record_id,)) for record_id in ids]
    for thread in threads:
        thread.start()
    with settled:
        all_settled = settled.wait_for(lambda: seen["settled"] == len(ids), timeout=30)
    downloading_while_held = CallRecord.objects.filter(run=run, status="downloading").count()
    release.set()
    for thread in threads:
        thread.join(timeout=30)

    assert all_settled
    assert (seen["inside"], seen["peak"], downloading_while_held) == (4, 4, 4)
    assert sorted(o.status for o in outcomes.values()) == ["pending"] * 6 + ["skipped"] * 4


def test_finishing_a_download_queues_the_next_pending_record(listed, fake_b24):
    first, second = pending_ids(listed)[:2]

    with mock.patch("calls.tasks.async_task") as queued:
        tasks.download_recording(first)

    assert CallRecord.objects.get(pk=first).status == "skipped"
    assert queued_ids(queued) == [second]


def test_a_failed_download_hands_its_slot_on_too(listed, fake_b24):
    first, second = pending_ids(listed)[:2]
    fake_b24.fail_next("500", times=5, match=CallRecord.objects.get(pk=first).call_id)

    with mock.patch("calls.tasks.async_task") as queued:
        tasks.download_recording(first)

    assert CallRecord.objects.get(pk=first).status == "error"
    assert queued_ids(queued) == [second]


def test_a_download_waiting_for_a_slot_queues_nothing(listed, fake_b24):
    ids = pending_ids(listed)
    mark_downloading(ids[:4])

    with mock.patch("calls.tasks.async_task") as queued:
        tasks.download_recording(ids[4])

    assert queued_ids(queued) == []


def test_a_record_taken_by_another_task_hands_the_slot_on(listed, fake_b24):
    first, second = pending_ids(listed)[:2]
    mark_downloading([first])

    with mock.patch("calls.tasks.async_task") as queued:
        tasks.download_recording(first)

    assert queued_ids(queued) == [second]


def test_a_download_refused_by_the_open_circuit_queues_nothing(listed, fake_b24, open_circuit):
    first = pending_ids(listed)[0]
    open_circuit()

    with mock.patch("calls.tasks.async_task") as queued:
        tasks.download_recording(first)

    assert queued_ids(queued) == []


def test_a_cancelled_run_queues_nothing(listed, fake_b24):
    first = pending_ids(listed)[0]
    services.call_export_cancel(run=listed)

    with mock.patch("calls.tasks.async_task") as queued:
        tasks.download_recording(first)

    assert queued_ids(queued) == []


def test_a_failed_run_queues_nothing(listed, fake_b24):
    first = pending_ids(listed)[0]
    services.call_export_fail(run=listed, reason="authentication failed")

    with mock.patch("calls.tasks.async_task") as queued:
        tasks.download_recording(first)

    assert queued_ids(queued) == []


def test_records_sent_back_in_a_completed_run_hand_the_slot_on(listed, fake_b24):
    first, second = pending_ids(listed)[:2]
    CallExport.objects.filter(pk=listed.pk).update(status="completed")

    with mock.patch("calls.tasks.async_task") as queued:
        tasks.download_recording(first)

    assert queued_ids(queued) == [second]


def test_four_tasks_carry_a_run_through_all_its_downloads(b24_config, fake_b24):
    run = start_run()
    queue: deque[int] = deque()
    longest = 0

    with mock.patch("calls.tasks.async_task", side_effect=lambda func, record_id, **kw: queue.append(record_id)):
        tasks.list_calls(str(run.run_id))
        while queue:
            longest = max(longest, len(queue))
            tasks.download_recording(queue.popleft())

    assert longest == 4
    assert run.records.count() == 60
    assert not run.records.exclude(status="skipped").exists()
    assert fake_b24.count("recording") == 54


def test_the_supervisor_fills_only_the_free_slots(listed, fake_b24):
    ids = pending_ids(listed)
    mark_downloading(ids[:3])
    CallRecord.objects.filter(pk__in=ids[3:]).update(updated_at=timezone.now() - timedelta(hours=1))

    with mock.patch("calls.tasks.async_task") as queued:
        tasks.supervise_runs()

    assert queued_ids(queued) == [ids[3]]
