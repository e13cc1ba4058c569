"""``manage.py call_export`` end to end against the fake portal (CALL-03, CALL-17…CALL-20, OPS-11)."""

from __future__ import annotations

import hashlib
import math
import shutil
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.files.storage import storages
from django.core.management import CommandError, call_command
from django.utils import timezone, translation

from calls import downloads, services
from calls.models import CallExport, CallExportStatus, CallRecord
from tests.fakes.audio import wav_bytes

pytestmark = pytest.mark.django_db


class Killed(BaseException):
    """Stands in for kill -9: nothing below the point of death runs, nothing is cleaned up."""


def export(*args: str) -> str:
    out = StringIO()
    call_command("call_export", *args, stdout=out)
    return out.getvalue()


def only_run() -> CallExport:
    (run,) = CallExport.objects.all()
    return run


def test_an_export_lists_every_call_and_stores_every_recording(b24_config, fake_b24):
    output = export()

    run = CallExport.objects.get()
    assert run.status == CallExportStatus.COMPLETED
    assert f"run_id: {run.run_id}" in output
    assert CallRecord.objects.count() == 60
    assert (run.listed_total, run.total_calls, run.processed_calls) == (60, 60, 60)
    stored = CallRecord.objects.exclude(storage_path=None)
    assert stored.count() == 54
    assert set(CallRecord.objects.filter(storage_path=None).values_list("error_code", flat=True)) == {"no_recording"}
    storage = storages["default"]
    for index, item in enumerate(fake_b24.items):
        record = CallRecord.objects.get(call_id=item["CALL_ID"])
        if record.storage_path:
            assert record.checksum == hashlib.sha256(wav_bytes(index)).hexdigest()
            assert storage.open(record.storage_path).read() == wav_bytes(index)


def test_records_without_stt_are_skipped_after_download(b24_config, fake_b24):
    export()

    record = CallRecord.objects.exclude(storage_path=None).first()
    assert record is not None
    assert (record.status, record.error_code) == ("skipped", "stt_disabled")
    assert (record.attempts, record.download_attempts) == (1, 1)


def test_recordings_with_only_a_disk_file_are_fetched_through_disk_file_get(b24_config, fake_b24):
    export()

    disk_only = [i for i in fake_b24.items if not i["CALL_RECORD_URL"] and i["RECORD_FILE_ID"]]
    assert disk_only
    for item in disk_only:
        assert CallRecord.objects.get(call_id=item["CALL_ID"]).checksum
    assert fake_b24.count(path_contains="disk.file.get") == len(disk_only)


def test_records_map_bitrix24_fields(b24_config, fake_b24):
    export()

    item = fake_b24.items[1]  # CALL_TYPE 2: inbound
    record = CallRecord.objects.get(call_id=item["CALL_ID"])
    assert record.direction == "inbound"
    assert (record.from_number, record.to_number) == (item["PHONE_NUMBER"], "+74950000000")
    assert record.record_id == item["RECORD_FILE_ID"]
    assert record.employee_id == item["PORTAL_USER_ID"]
    assert record.duration_sec == int(item["CALL_DURATION"])
    # The item as listed, but the recording URL's access key is not kept outside ``recording_url``.
    assert record.raw_payload == {
        **item,
        "CALL_RECORD_URL": item["CALL_RECORD_URL"].replace(fake_b24.access_key, "***"),
    }
    assert record.recording_url == item["CALL_RECORD_URL"]
    outbound = CallRecord.objects.get(call_id=fake_b24.items[0]["CALL_ID"])
    assert (outbound.direction, outbound.from_number) == ("outbound", "+74950000000")


def test_values_longer_than_their_columns_stay_distinct_and_the_run_completes(b24_config, fake_b24):
    # Bitrix24 bounds none of these; PostgreSQL refuses a value longer than its column, and a file
    # system a file name longer than 255 bytes.
    long_call = "externalCall." + "x" * 300
    fake_b24.items[0].update(  # an outbound call: the phone number is the one called
        CALL_ID=long_call,
        RECORD_FILE_ID="9" * 300,
        PHONE_NUMBER="sip:" + "operator" * 20 + "@pbx.example",
        PORTAL_USER_ID="u" * 200,
        CALL_DURATION="1e30",
    )
    fake_b24.items[1].update(CALL_ID=long_call + "y")  # another call with the same first 300 characters

    export()
    export()  # listed again: the same records, not new ones

    assert set(CallExport.objects.values_list("status", flat=True)) == {CallExportStatus.COMPLETED}
    assert CallRecord.objects.count() == 60
    first, second = (CallRecord.objects.get(raw_payload__CALL_ID=call_id) for call_id in (long_call, long_call + "y"))
    assert first.call_id != second.call_id
    assert len(first.call_id) == len(second.call_id) == 255
    assert first.call_id.startswith("externalCall.xxx")
    assert (len(first.record_id or ""), len(first.to_number), len(first.employee_id or "")) == (255, 64, 128)
    assert first.duration_sec == 2**31 - 1
    assert first.raw_payload["PHONE_NUMBER"].startswith("sip:operator")  # the item as listed, whole
    assert first.storage_path and len(first.storage_path.rsplit("/", 1)[1].encode()) <= 255
    assert storages["default"].open(first.storage_path).read() == wav_bytes(0)


def test_a_nul_character_anywhere_in_a_listed_call_is_dropped_from_its_columns_and_escaped_in_its_item(
    b24_config, fake_b24
):
    # PostgreSQL stores NUL neither in text nor in jsonb: the listing's page used to fail, and the run with it.
    fake_b24.items[0].update(
        CALL_ID="externalCall.\x00000001", PHONE_NUMBER="+7916\x001234567", PORTAL_USER_ID="10\x000", COMMENT="a\x00b"
    )

    export()

    assert only_run().status == CallExportStatus.COMPLETED
    record = CallRecord.objects.get(call_id="externalCall.000001")
    assert (record.to_number, record.employee_id) == ("+79161234567", "100")
    assert record.raw_payload["COMMENT"] == "a\\u0000b"
    assert record.storage_path  # its recording was downloaded as any other


def test_progress_is_printed_as_plain_lines_when_not_a_terminal(b24_config, fake_b24):
    output = export()

    assert "No django-q2 cluster is running; processing the run in this process." in output
    assert "listing: 60/60" in output
    assert "download: 54/54" in output
    assert "run completed: 60 calls, 60 final" in output
    # STT is off: the 54 stored recordings are counted as downloaded, and skipped for transcription.
    assert "54 recordings downloaded, 60 skipped (no_recording 6, stt_disabled 54)" in output


def test_a_dry_run_estimates_and_writes_nothing_but_the_run(b24_config, fake_b24, storage_dir):
    output = export("--dry-run")

    run = only_run()
    recorded = [i for i in fake_b24.items if i["CALL_RECORD_URL"] or i["RECORD_FILE_ID"]]
    minutes = sum(math.ceil(int(i["CALL_DURATION"]) / 60) for i in recorded)
    estimate = run.options["estimate"]
    assert run.status == CallExportStatus.COMPLETED and run.options["dry_run"] is True
    assert (estimate["calls"], estimate["with_recording"], estimate["minutes"]) == (60, 54, minutes)
    assert estimate["cost_usd"] == f"{minutes * 0.006:.2f}"
    assert estimate["storage_writable"] is True
    assert CallRecord.objects.count() == 0
    assert fake_b24.count("recording") == 0
    assert not [p for p in storage_dir.rglob("*") if p.is_file()]
    assert f"estimated cost {estimate['cost_usd']} USD" in output


def test_rerunning_a_period_creates_no_duplicates_and_downloads_nothing_again(b24_config, fake_b24):
    export("--from", "2000-01-01", "--to", "2100-01-01")
    downloads = fake_b24.count("recording")

    export("--from", "2000-01-01", "--to", "2100-01-01")

    assert CallRecord.objects.count() == 60
    assert fake_b24.count("recording") == downloads
    second = CallExport.objects.order_by("-started_at").first()
    assert second is not None
    assert second.status == CallExportStatus.COMPLETED
    assert second.total_calls == 60
    assert CallRecord.objects.filter(run=second).count() == 60


def test_an_export_with_ten_percent_faults_ends_with_exactly_n_records(b24_config, fake_b24):
    fake_b24.fault_rate = 0.1

    export()

    assert CallRecord.objects.count() == 60
    assert CallRecord.objects.values("call_id").distinct().count() == 60
    assert CallRecord.objects.exclude(storage_path=None).count() == 54
    assert only_run().status == CallExportStatus.COMPLETED
    assert sum(1 for r in fake_b24.requests if r.status != 200) > 0


def _snapshot() -> list[tuple]:
    return sorted(
        CallRecord.objects.values_list("call_id", "record_id", "status", "error_code", "storage_path", "checksum")
    )


def test_a_run_killed_during_listing_resumes_from_its_checkpoint(b24_config, fake_b24, monkeypatch):
    original = services.call_export_list

    def dying_progress(stage, done, total):
        if stage == "listing" and done == 50:
            raise Killed

    monkeypatch.setattr(services, "call_export_list", lambda **kw: original(**{**kw, "progress": dying_progress}))
    with pytest.raises(Killed):
        export()
    monkeypatch.undo()
    run = only_run()
    assert (run.status, run.checkpoint["next"], CallRecord.objects.count()) == ("in_progress", 50, 50)

    output = export("--resume", str(run.run_id))

    assert "resumed from offset 50" in output
    listing = [r for r in fake_b24.requests if "voximplant" in r.path]
    assert [r.query.get("start") for r in listing] == [None, "50"]
    run.refresh_from_db()
    assert run.status == CallExportStatus.COMPLETED
    assert CallRecord.objects.count() == 60
    assert CallRecord.objects.exclude(storage_path=None).count() == 54


def test_a_run_killed_during_downloads_ends_the_same_as_an_uninterrupted_one(
    b24_config, fake_b24, monkeypatch, storage_dir
):
    export("--from", "2000-01-01", "--to", "2100-01-01")
    expected = _snapshot()
    CallRecord.objects.all().delete()
    CallExport.objects.all().delete()
    shutil.rmtree(storage_dir)

    calls = {"n": 0}
    original = downloads.save_stream

    def dying_save(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 20:
            raise Killed
        return original(*args, **kwargs)

    monkeypatch.setattr(downloads, "save_stream", dying_save)
    with pytest.raises(Killed):
        export("--from", "2000-01-01", "--to", "2100-01-01")
    monkeypatch.undo()
    run = only_run()
    assert CallRecord.objects.filter(status="downloading").count() == 1

    export("--resume", str(run.run_id))

    run.refresh_from_db()
    assert run.status == CallExportStatus.COMPLETED
    assert _snapshot() == expected


def test_a_listing_failure_fails_the_run_and_the_command(b24_config, fake_b24):
    fake_b24.fail_next("401", times=1)

    with pytest.raises(CommandError, match=r"401 NO_AUTH_FOUND"):
        export()

    run = only_run()
    assert run.status == CallExportStatus.ERROR
    assert run.finished_at is not None


def test_a_failed_run_is_resumed_back_to_in_progress_and_completed(b24_config, fake_b24):
    fake_b24.fail_next("401", times=1)
    with pytest.raises(CommandError):
        export()

    export("--resume", str(only_run().run_id))

    assert only_run().status == CallExportStatus.COMPLETED
    assert CallRecord.objects.count() == 60


def test_a_listing_refused_by_the_open_circuit_fails_the_run_and_it_resumes_later(b24_config, fake_b24, open_circuit):
    circuit = open_circuit()
    with pytest.raises(CommandError, match="circuit open"):
        export()
    assert only_run().status == CallExportStatus.ERROR
    assert fake_b24.count() == 0
    circuit.delete()

    export("--resume", str(only_run().run_id))

    assert only_run().status == CallExportStatus.COMPLETED
    assert CallRecord.objects.count() == 60


def test_a_completed_run_cannot_be_resumed(b24_config, fake_b24):
    export()

    with pytest.raises(CommandError, match="completed run cannot be resumed"):
        export("--resume", str(only_run().run_id))


def test_an_unknown_run_cannot_be_resumed(b24_config):
    with pytest.raises(CommandError, match="No run"):
        export("--resume", "not-a-uuid")


def test_a_cancelled_run_stops_downloading(b24_config, fake_b24, monkeypatch):
    original = downloads.record_download

    def cancel_midway(*, record_id, client=None):
        outcome = original(record_id=record_id, client=client)
        run = only_run()
        if run.status == CallExportStatus.IN_PROGRESS:
            services.call_export_cancel(run=run)
        return outcome

    monkeypatch.setattr(services, "record_download", cancel_midway)

    export()

    assert only_run().status == CallExportStatus.CANCELLED
    assert fake_b24.count("recording") == 1


def test_starting_the_same_period_twice_returns_the_active_run(b24_config):
    period = services.default_period()

    first, created = services.call_export_start(period_from=period[0], period_to=period[1])
    second, created_again = services.call_export_start(period_from=period[0], period_to=period[1])

    assert (created, created_again) == (True, False)
    assert first.run_id == second.run_id


def test_the_default_period_is_the_last_sixty_days_inclusive(b24_config):
    period_from, period_to = services.default_period()

    assert (period_to.date() - period_from.date()).days == 60
    assert (period_from.hour, period_to.hour, period_to.minute, period_to.second) == (0, 23, 59, 59)


def test_dates_typed_as_a_person_types_them_mean_whole_local_days(b24_config, fake_b24):
    output = export("--from", "2026-11-01", "--to", "20261102", "--dry-run")

    run = only_run()
    assert (run.period_from, run.period_to) == (
        datetime(2026, 10, 31, 21, 0, 0, tzinfo=UTC),
        datetime(2026, 11, 2, 20, 59, 59, tzinfo=UTC),
    )
    assert "period: 2026-11-01T00:00:00+03:00 – 2026-11-02T23:59:59+03:00" in output


def test_a_dashed_date_on_both_ends_means_whole_local_days(b24_config, fake_b24):
    output = export("--from", "2026-11-01", "--to", "2026-11-02", "--dry-run")

    run = only_run()
    assert (run.period_from, run.period_to) == (
        datetime(2026, 10, 31, 21, 0, 0, tzinfo=UTC),
        datetime(2026, 11, 2, 20, 59, 59, tzinfo=UTC),
    )
    assert (
        "period: 2026-11-01T00:00:00+03:00 – 2026-11-02T23:59:59+03:00 (UTC 2026-10-31T21:00:00Z – 2026-11-02T20:59:59Z)"
        in output.splitlines()
    )


def test_a_compact_date_on_both_ends_means_whole_local_days(b24_config, fake_b24):
    export("--from", "20261101", "--to", "20261102", "--dry-run")

    run = only_run()
    assert (run.period_from, run.period_to) == (
        datetime(2026, 10, 31, 21, 0, 0, tzinfo=UTC),
        datetime(2026, 11, 2, 20, 59, 59, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("2026-11-02T10:15:00Z", datetime(2026, 11, 2, 10, 15, tzinfo=UTC)),
        ("2026-11-02T13:15:00+03:00", datetime(2026, 11, 2, 10, 15, tzinfo=UTC)),
        ("2026-11-02T10:15", datetime(2026, 11, 2, 10, 15, tzinfo=UTC)),  # no offset: UTC
        ("20261102T101500Z", datetime(2026, 11, 2, 10, 15, tzinfo=UTC)),
    ],
)
def test_a_date_time_is_taken_as_typed(b24_config, fake_b24, typed, meant):
    output = export("--from", "2026-11-01", "--to", typed, "--dry-run")

    run = only_run()
    assert run.period_to == meant
    assert f"(UTC 2026-10-31T21:00:00Z – {meant:%Y-%m-%dT%H:%M:%SZ})" in output


def test_a_period_in_the_future_warns_and_still_runs(b24_config, fake_b24):
    err = StringIO()
    next_year = timezone.now().year + 1

    with translation.override("en"):  # as manage.py runs commands
        call_command("call_export", "--from", f"{next_year}0101", "--to", f"{next_year}0102", "--dry-run", stderr=err)

    assert err.getvalue() == (
        f"Warning: the period starts in the future ({next_year}-01-01T00:00:00+03:00); Bitrix24 has no calls there yet.\n"
    )
    assert only_run().status == "completed"


def test_a_period_that_ends_before_it_starts_is_refused(b24_config):
    with pytest.raises(CommandError, match="The period ends before it starts"):
        export("--from", "20261102", "--to", "2026-11-01")
    assert not CallExport.objects.exists()


def test_a_date_that_is_not_one_is_refused_with_the_accepted_forms(b24_config):
    with pytest.raises(CommandError, match=r"YYYY-MM-DD or YYYYMMDD"):
        export("--from", "2026-13-01")
    assert not CallExport.objects.exists()
