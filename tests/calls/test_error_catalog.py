"""docs/testing/error_catalog.json lists every error code the code can answer or store (STT-55, STT-56)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TypeVar

import pytest
from django.conf import settings

from calls import smoke
from calls.models import RECORD_CODE_LABELS
from integrations.bitrix24 import errors as b24_errors
from integrations.stt import errors as stt_errors
from mastermobile.api.errors import PROBLEM_TYPES

BASE_DIR = Path(settings.BASE_DIR)
CATALOG = json.loads((BASE_DIR / "docs" / "testing" / "error_catalog.json").read_text(encoding="utf-8"))
API = CATALOG["api_errors"]
PIPELINE = CATALOG["pipeline_errors"]
# The spec's own tables, so that dropping one of its rows from the catalog fails too.
SPEC_API_CODES = {
    "VALIDATION",
    "UNAUTHORIZED",
    "FORBIDDEN",
    "NOT_FOUND",
    "CONFLICT",
    "TOO_MANY_REQUESTS",
    "GATEWAY_TIMEOUT",
    "INTERNAL",
}
SPEC_PIPELINE_CODES = {
    "http_<status>",
    "http_403",
    "http_404",
    "network_error",
    "timeout",
    "transcription_timeout",
    "max_attempts",
    "max_retries",
    "unexpected_error",
    "missing_audio",
    "no_recording",
    "stt_disabled",
    "duration_limit_exceeded",
    "file_too_large",
    "unsupported_format",
    "audio_conversion_failed",
    "invalid_audio",
    "storage_error",
    "b24_query_limit",
    "b24_auth_failed",
    "summary_failed",
    "quality_below_threshold",
    "stt_failed",
    "missing_record",
}
# Literals written as error_code="…", last_error_code="…" or a log field "error_code": "…".
WRITTEN_CODE = re.compile(r"""error_code["']?\s*[=:]\s*["']([a-z0-9_.]+)["']""")


def catalogued(code: str) -> bool:
    """Listed as such, or an ``http_NNN`` covered by the ``http_<status>`` entry."""
    codes = {entry["error_code"] for entry in PIPELINE}
    return code in codes or (re.fullmatch(r"http_\d{3}", code) is not None and "http_<status>" in codes)


T = TypeVar("T")


def subclasses(base: type[T]) -> list[type[T]]:
    found: list[type[T]] = []
    for cls in base.__subclasses__():
        found += [cls, *subclasses(cls)]
    return found


def stt_codes() -> set[str]:
    codes = {stt_errors.TranscriptionError("x").error_code}
    for cls in subclasses(stt_errors.TranscriptionError):
        # http_<status> errors need a status to have a code at all.
        error = cls("x", status_code=500) if issubclass(cls, stt_errors.ProviderHTTPError) else cls("x")
        codes.add(error.error_code)
    return codes


def bitrix24_codes() -> set[str]:
    codes = {b24_errors.Bitrix24Error("x").code, b24_errors.Bitrix24TransportError("x", timeout=True).code}
    for cls in subclasses(b24_errors.Bitrix24Error):
        codes.add(cls("x", status_code=500).code)
        if issubclass(cls, b24_errors.Bitrix24HTTPError):
            codes.add(cls("x").code)  # a 200 answer carrying an error has no status
    return codes


def test_every_entry_has_the_fields_of_its_table():
    for entry in API:
        assert {"code", "problem_type", "http_status", "category", "severity", "meaning", "retryable"} <= set(entry)
    for entry in PIPELINE:
        assert {"error_code", "stage", "meaning", "retryable"} <= set(entry)
    assert {entry["retryable"] for entry in API + PIPELINE} <= {"yes", "no", "conditional"}
    assert all(entry.get("retry_note") for entry in API + PIPELINE if entry["retryable"] == "conditional")


def test_no_code_is_listed_twice():
    assert len({entry["code"] for entry in API}) == len(API)
    assert len({entry["error_code"] for entry in PIPELINE}) == len(PIPELINE)


def test_every_row_of_the_spec_tables_is_in_the_catalog():
    assert {entry["code"] for entry in API} >= SPEC_API_CODES
    assert {entry["error_code"] for entry in PIPELINE} >= SPEC_PIPELINE_CODES
    for entry in API + PIPELINE:
        code = entry.get("code") or entry["error_code"]
        assert entry["in_spec"] == (code in SPEC_API_CODES | SPEC_PIPELINE_CODES), code


def test_every_problem_type_the_api_answers_is_in_the_catalog_with_its_status():
    by_type = {entry["problem_type"]: entry for entry in API if entry["problem_type"]}

    assert set(by_type) == set(PROBLEM_TYPES)
    for problem_type, (status, _title) in PROBLEM_TYPES.items():
        assert by_type[problem_type]["http_status"] == status, problem_type


@pytest.mark.parametrize(
    ("source", "codes"),
    [
        ("integrations.stt.errors", stt_codes),
        ("integrations.bitrix24.errors", bitrix24_codes),
        ("calls.models.RECORD_CODE_LABELS", lambda: set(RECORD_CODE_LABELS)),
        ("calls.smoke", lambda: {smoke.QUALITY_CODE, smoke.MISSING_AUDIO_CODE}),
    ],
)
def test_every_error_code_the_code_defines_is_in_the_catalog(source, codes):
    missing = sorted(code for code in codes() if not catalogued(code))

    assert not missing, f"{source} can write {missing}; add them to docs/testing/error_catalog.json"


def test_every_error_code_written_as_a_literal_is_in_the_catalog():
    written = {
        (str(path.relative_to(BASE_DIR)), code)
        for folder in ("calls", "integrations", "mastermobile")
        for path in (BASE_DIR / folder).rglob("*.py")
        if "migrations" not in path.parts
        for code in WRITTEN_CODE.findall(path.read_text(encoding="utf-8"))
    }

    assert written, "the scan found nothing; has the way codes are written changed?"
    missing = sorted((path, code) for path, code in written if not catalogued(code))
    assert not missing, f"written but not in docs/testing/error_catalog.json: {missing}"
