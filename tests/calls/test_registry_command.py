"""``manage.py call_registry``: the same bytes as the API, written whole or not at all."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from calls.models import RegistryDownload
from tests.calls.registry import make_golden_records

pytestmark = pytest.mark.django_db
GOLDEN = Path(__file__).parent.parent / "data" / "registry" / "golden.csv"


def run(*args: str) -> str:
    err = io.StringIO()
    call_command("call_registry", *args, stdout=io.StringIO(), stderr=err)
    return err.getvalue()


def unmask_off(settings) -> None:
    settings.APP_CONFIG = settings.APP_CONFIG.__class__(**{**vars(settings.APP_CONFIG), "pii_masking_enabled": False})


def test_the_file_equals_the_apis_bytes(tmp_path, client_for, settings):
    unmask_off(settings)
    make_golden_records()
    target = tmp_path / "registry.csv"

    output = run("--from", "2026-10-01", "--to", "20261031", "--output", str(target))
    from_api = b"".join(
        client_for("1c")
        .get("/api/v1/call-registry", {"period_from": "2026-09-30T21:00:00Z", "period_to": "2026-10-31T20:59:59Z"})
        .streaming_content
    )

    assert target.read_bytes() == from_api == GOLDEN.read_bytes()
    assert "3 calls" in output and f"wrote 3 calls to {target}" in output
    assert output.count("3/3 calls") == 1
    assert not list(tmp_path.glob(".*.part"))


def test_without_output_it_names_the_file_after_the_local_period(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_golden_records()

    run("--from", "2026-10-01", "--to", "2026-10-31", "--format", "json")

    items = json.loads((tmp_path / "calls_2026-10-01_2026-10-31.json").read_bytes())
    assert [item["call_id"] for item in items] == ["1001", "1002", "1003"] and "has_text" in items[0]


def test_the_download_is_audited_as_the_command(tmp_path):
    make_golden_records()

    run("--from", "2026-10-01", "--to", "2026-10-31", "--output", str(tmp_path / "r.csv"), "--unmasked")

    download = RegistryDownload.objects.get()
    assert download.channel == "command" and download.principal.startswith("command:")
    assert download.unmasked is True and download.row_count == 3 and download.finished_at is not None
    assert set(download.filters) == {"period_from", "period_to"}


def test_masking_applies_unless_asked_otherwise(tmp_path, settings):
    settings.APP_CONFIG = settings.APP_CONFIG.__class__(**{**vars(settings.APP_CONFIG), "pii_masking_enabled": True})
    make_golden_records()

    run("--from", "2026-10-01", "--to", "2026-10-31", "--output", str(tmp_path / "masked.csv"))

    assert "+79161234567" not in (tmp_path / "masked.csv").read_text(encoding="utf-8-sig")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-10-31", "--to", "2026-10-01"], "is before --from"),
        (["--from", "31.10.2026"], "is not a date"),
        (["--output", "/nonexistent-dir/registry.csv"], "is not a directory"),
    ],
)
def test_bad_input_is_a_clear_error_and_writes_nothing(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)

    with pytest.raises(CommandError, match=message):
        run(*args)

    assert list(tmp_path.iterdir()) == [] and RegistryDownload.objects.count() == 0


def test_a_failure_midway_leaves_the_old_file_and_no_part_file(tmp_path, monkeypatch):
    make_golden_records()
    target = tmp_path / "registry.csv"
    target.write_bytes(b"yesterday's registry")

    def broken(*args, **kwargs):
        yield b"half"
        raise RuntimeError("database went away")

    monkeypatch.setattr("calls.management.commands.call_registry.registry_download", broken)
    with pytest.raises(RuntimeError):
        run("--from", "2026-10-01", "--output", str(target))

    assert target.read_bytes() == b"yesterday's registry"
    assert [path.name for path in tmp_path.iterdir()] == ["registry.csv"]
