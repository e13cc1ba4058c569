"""The registry writer (EXP-01/02/03/05): bytes, masking and JSON, the same for every channel."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from calls.registry import (
    BOM,
    EXPORT_COLUMNS,
    REGISTRY_COLUMNS,
    RegistryFormat,
    csv_chunks,
    json_chunks,
    preview_for_registry,
    registry_row,
    rows,
    write_registry_csv,
)
from calls.selectors.registry import registry_values
from tests.calls.registry import PERIOD_FROM, PERIOD_TO, make_golden_records

pytestmark = pytest.mark.django_db
GOLDEN = Path(__file__).parent.parent / "data" / "registry" / "golden.csv"


def written(**options) -> bytes:
    stream = io.BytesIO()
    write_registry_csv(stream, period_from=PERIOD_FROM, period_to=PERIOD_TO, **options)
    return stream.getvalue()


def test_the_registry_equals_the_golden_file_byte_for_byte(settings):
    settings.APP_CONFIG = settings.APP_CONFIG.__class__(**{**vars(settings.APP_CONFIG), "pii_masking_enabled": False})
    make_golden_records()

    assert written(unmasked=False) == GOLDEN.read_bytes()


def test_the_csv_opens_with_a_bom_and_the_twenty_columns_in_order():
    make_golden_records()

    text = written(unmasked=True)

    assert text.startswith(BOM) and text.count(BOM) == 1
    header = text[len(BOM) :].split(b"\r\n")[0].decode()
    assert tuple(header.split(";")) == REGISTRY_COLUMNS and len(REGISTRY_COLUMNS) == 20


def test_fields_with_a_delimiter_quote_or_line_break_are_quoted_and_others_are_not():
    row = {column: "plain" for column in REGISTRY_COLUMNS} | {
        "call_id": "a;b",
        "employee": 'say "hi"',
        "text_preview": "line\r\nbreak",
        "error_code": None,
    }

    body = b"".join(csv_chunks([row]))[len(BOM) :].decode().split("\r\n", 1)[1]

    assert body.startswith('plain;"a;b";plain;"say ""hi""";')
    assert '"line\r\nbreak"' in body and ";;" in body  # None is an empty field
    assert next(iter(csv.reader(io.StringIO(body, newline=""), delimiter=";")))[1:4] == ["a;b", "plain", 'say "hi"']


def test_an_empty_period_gives_the_header_only():
    assert written(unmasked=True) == BOM + (";".join(REGISTRY_COLUMNS) + "\r\n").encode()


def test_masking_shortens_numbers_and_drops_the_recording_urls_query_and_the_access_key_is_never_exported(settings):
    make_golden_records()
    config = settings.APP_CONFIG
    settings.APP_CONFIG = config.__class__(**{**vars(config), "pii_masking_enabled": True})

    masked = written(unmasked=False).decode()
    unmasked = written(unmasked=True).decode()

    assert "+79161234567" not in masked and ";+7***;+7***;" in masked
    assert "secret-key" not in masked and "https://portal.bitrix24.ru/disk/501.mp3;" in masked
    assert "+79161234567" in unmasked and "secret-key" not in unmasked
    assert "https://portal.bitrix24.ru/disk/501.mp3?auth=***&ts=1;" in unmasked  # a credential, not personal data


def test_datetimes_carry_the_export_time_zones_offset_and_costs_two_decimals():
    make_golden_records()
    form = RegistryFormat.for_reader(unmasked=True)

    first = next(rows(registry_values(period_from=PERIOD_FROM, period_to=PERIOD_TO), form))

    assert first["datetime_start"] == "2026-10-03T00:30:05+03:00"
    assert first["transcription_cost"] == "0.02"  # 0.015 rounds half up


def test_the_preview_is_cut_at_1024_bytes_without_breaking_a_character():
    preview = preview_for_registry("я" * 600)  # two bytes each

    assert len(preview.encode()) == 1024 and preview == "я" * 512
    assert preview_for_registry("a\nb\r\nc") == "a b c"


def test_json_is_one_array_equal_to_the_csv_row_for_row():
    make_golden_records()
    form = RegistryFormat.for_reader(unmasked=True)
    values = list(registry_values(period_from=PERIOD_FROM, period_to=PERIOD_TO))

    items = json.loads(b"".join(json_chunks(rows(values, form))))
    table = list(
        csv.DictReader(
            io.StringIO(b"".join(csv_chunks(rows(values, form), EXPORT_COLUMNS)).decode()[1:]), delimiter=";"
        )
    )

    assert len(items) == len(table) == 3
    for item, line in zip(items, table, strict=True):
        assert list(item) == list(EXPORT_COLUMNS)
        assert {
            key: "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
            for key, value in item.items()
        } == line
    assert items[1]["record_id"] is None and items[0]["retry_count"] == 1 and items[0]["has_text"] is True
    assert items[0]["transcription_cost"] == "0.02" and items[1]["has_text"] is False


def test_an_empty_json_export_is_an_empty_array():
    assert b"".join(json_chunks([])) == b"[]"


def test_a_row_keeps_the_types_the_json_needs():
    make_golden_records()
    values = next(iter(registry_values(period_from=PERIOD_FROM, period_to=PERIOD_TO)))

    row = registry_row(values, RegistryFormat.for_reader(unmasked=True))

    assert isinstance(row["duration_sec"], int) and isinstance(row["retry_count"], int)
    assert row["run_id"] == "6f1c2a4e-8b7d-4c1e-9a53-2d0e7b9c1f00"
