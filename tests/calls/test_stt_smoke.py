"""``manage.py stt_smoke`` against the fake OpenAI over HTTP (STT-50…STT-54)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Iterator
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from integrations.stt import STUB_TEXT
from tests.fakes.openai import FakeOpenAI, load_transcripts

SMOKE_DATA = Path(settings.BASE_DIR) / "tests" / "data" / "stt_smoke"
PLAYLIST = SMOKE_DATA / "playlist.json"
MANIFEST = json.loads((SMOKE_DATA / "manifest.json").read_text(encoding="utf-8"))
TEXT_BY_FILE = {clip["filename"]: clip["text"] for clip in MANIFEST["clips"]}
SUCCESS_KEYS = [
    "call_id",
    "record_id",
    "source_file",
    "status",
    "language",
    "audio_duration_seconds",
    "elapsed_seconds",
    "transcript_path",
    "cost_usd",
]
FAILURE_KEYS = [*SUCCESS_KEYS[:7], "error_code", "error_message"]

# The openai-whisper engine sends through the outbound policy, whose circuit state and audit rows are in the database.
pytestmark = pytest.mark.django_db


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(transcripts=load_transcripts(SMOKE_DATA / "manifest.json")) as server:
        yield server


@pytest.fixture
def stt_on(fake, settings):
    settings.APP_CONFIG = dataclasses.replace(
        settings.APP_CONFIG,
        openai_api_key=fake.api_key,
        openai_base_url=fake.base_url,
        stt_openai_model="whisper-1",
        stt_max_file_minutes=60,
        stt_request_timeout_s=5,
        chatgpt_proxy_url="",
        whisper_rate_per_min_usd=Decimal("0.006"),
    )


@pytest.fixture
def stt_off(settings):
    settings.APP_CONFIG = dataclasses.replace(settings.APP_CONFIG, openai_api_key="", stt_max_file_minutes=0)


@pytest.fixture
def report_path(tmp_path) -> Path:
    return tmp_path / "build" / "stt_smoke_report.json"


def smoke(*args: str, report: Path) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("stt_smoke", *args, "--report", str(report), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def failing_smoke(*args: str, report: Path) -> CommandError:
    with pytest.raises(CommandError) as caught:
        smoke(*args, report=report)
    return caught.value


def read_report(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_the_shipped_playlist_passes_and_the_report_has_the_spec_fields(stt_on, fake, report_path):
    output, _ = smoke("--playlist", str(PLAYLIST), report=report_path)

    report = read_report(report_path)
    assert list(report) == ["generated_at", "playlist", "engine", "language", "output_dir", "summary", "entries"]
    assert report["summary"] == {"total": 4, "success": 4, "failed": 0, "duration_minutes": 0.2, "cost_usd": "0.02"}
    assert (report["engine"], report["language"]) == ("openai-whisper", None)
    assert [list(entry) for entry in report["entries"]] == [SUCCESS_KEYS] * 4
    assert [entry["language"] for entry in report["entries"]] == ["en", "es", "fr", None]
    assert [entry["cost_usd"] for entry in report["entries"]] == ["0.006", "0.006", "0.006", "0.000"]
    assert "Processed 4 file(s). Success: 4, errors: 0." in output
    assert f"JSON report: {report_path}" in output
    assert f"Markdown report: {report_path.with_suffix('.md')}" in output


def test_each_transcript_is_written_as_call_id_txt_in_a_utc_timestamped_folder(stt_on, report_path):
    smoke("--playlist", str(PLAYLIST), report=report_path)

    report = read_report(report_path)
    output_dir = Path(report["output_dir"])
    assert output_dir.parent == report_path.parent / "stt_smoke"
    assert len(output_dir.name) == 16 and output_dir.name[8] == "T" and output_dir.name.endswith("Z")
    for entry in report["entries"]:
        transcript = Path(entry["transcript_path"])
        assert transcript == output_dir / f"{entry['call_id']}.txt"
        expected = TEXT_BY_FILE[Path(entry["source_file"]).name]
        assert transcript.read_text(encoding="utf-8") == (expected + "\n" if expected else "")


def test_a_silent_clip_is_not_sent_and_costs_nothing(stt_on, fake, report_path):
    smoke("--playlist", str(PLAYLIST), report=report_path)

    assert len(fake.transcriptions()) == 3
    assert "success (no speech, nothing sent)" in report_path.with_suffix(".md").read_text(encoding="utf-8")


def test_the_markdown_report_has_the_header_and_one_row_per_file(stt_on, tmp_path, report_path):
    markdown = tmp_path / "elsewhere" / "smoke.md"

    smoke("--playlist", str(PLAYLIST), "--markdown-report", str(markdown), report=report_path)

    text = markdown.read_text(encoding="utf-8")
    assert text.startswith("# STT smoke check: stt-smoke\n")
    assert "- Engine: openai-whisper" in text
    assert "- Totals: 4 file(s), 4 succeeded, 0 failed, 0.2 min, 0.02 USD" in text
    assert "| File | Status | Duration (s) | Transcript | Error |" in text
    assert "| `audio/en_hello_world.wav` | success | 3.300 |" in text
    assert not report_path.with_suffix(".md").exists()


def test_a_provider_error_fails_its_item_with_the_error_code_and_exits_1(stt_on, fake, report_path):
    fake.fail_next(500)

    error = failing_smoke("--playlist", str(PLAYLIST), report=report_path)

    assert error.returncode == 1
    report = read_report(report_path)
    assert report["summary"]["success"] == 3 and report["summary"]["failed"] == 1
    failed = report["entries"][0]
    assert list(failed) == FAILURE_KEYS
    assert (failed["status"], failed["error_code"]) == ("failure", "http_500")
    assert failed["audio_duration_seconds"] == 3.3
    assert [entry["status"] for entry in report["entries"][1:]] == ["success"] * 3


def test_a_transcript_that_differs_from_the_expected_text_fails_the_quality_gate(stt_on, tmp_path, report_path):
    playlist = copy_playlist(tmp_path, expected_transcript="Goodbye moon, this was not a test at all.")

    error = failing_smoke("--playlist", str(playlist), report=report_path)

    assert error.returncode == 1
    entry = read_report(report_path)["entries"][0]
    assert entry["error_code"] == "quality_below_threshold"
    assert entry["error_message"].startswith("word error rate 0.")


def test_an_expected_transcript_file_beside_the_playlist_is_used_when_the_item_has_none(stt_on, tmp_path, report_path):
    playlist = copy_playlist(tmp_path)
    expected = playlist.parent / "expected" / "transcripts" / "smoke-en-hello.txt"
    expected.parent.mkdir(parents=True)
    expected.write_text("Something else was said here entirely.\n", encoding="utf-8")

    failing_smoke("--playlist", str(playlist), report=report_path)

    codes = [entry.get("error_code") for entry in read_report(report_path)["entries"]]
    assert codes == ["quality_below_threshold", None, None, None]


def test_a_transcript_within_a_quarter_of_wrong_words_passes_the_gate(stt_on, tmp_path, report_path):
    # 2 of the 8 words differ: a word error rate of exactly 0.25.
    playlist = copy_playlist(tmp_path, expected_transcript="Hello world, this is a smoke check today.")

    smoke("--playlist", str(playlist), report=report_path)

    assert read_report(report_path)["summary"]["failed"] == 0


def test_a_language_other_than_the_expected_one_fails_the_gate(stt_on, report_path):
    # With a hint the fake, like Whisper, reports the hinted language.
    failing_smoke("--playlist", str(PLAYLIST), "--language", "de", report=report_path)

    entries = read_report(report_path)["entries"]
    assert [entry.get("error_code") for entry in entries] == ["quality_below_threshold"] * 3 + [None]
    assert entries[0]["error_message"] == "language de, expected en"


def test_an_unexpected_cost_fails_the_gate(stt_on, tmp_path, report_path):
    playlist = copy_playlist(tmp_path, expected_cost_usd="0.012")

    failing_smoke("--playlist", str(playlist), report=report_path)

    entry = read_report(report_path)["entries"][0]
    assert entry["error_message"] == "cost 0.006 USD, expected 0.012"


def test_a_playlist_item_without_its_audio_file_fails_as_missing_audio(stt_on, tmp_path, report_path):
    playlist = copy_playlist(tmp_path, audio="nowhere.wav")

    failing_smoke("--playlist", str(playlist), report=report_path)

    entry = read_report(report_path)["entries"][0]
    assert (entry["error_code"], entry["audio_duration_seconds"]) == ("missing_audio", None)
    assert entry["error_message"] == "audio/nowhere.wav does not exist"


def test_the_stub_engine_works_without_a_key_and_sends_nothing(stt_off, fake, report_path):
    output, _ = smoke("--playlist", str(PLAYLIST), "--engine", "stub", report=report_path)

    report = read_report(report_path)
    assert report["engine"] == "stub"
    assert report["summary"] == {"total": 4, "success": 4, "failed": 0, "duration_minutes": 0.2, "cost_usd": "0.00"}
    first = Path(report["entries"][0]["transcript_path"])
    assert first.read_text(encoding="utf-8") == STUB_TEXT + "\n"
    assert fake.requests == []
    assert "Success: 4, errors: 0." in output


def test_the_openai_engine_with_stt_disabled_is_a_configuration_error(stt_off, fake, report_path):
    error = failing_smoke("--playlist", str(PLAYLIST), report=report_path)

    assert error.returncode == 2
    assert str(error) == "engine openai-whisper is unavailable: speech-to-text is disabled: OPENAI_API_KEY is empty"
    assert not report_path.exists()
    assert fake.requests == []


def test_an_unknown_engine_is_a_usage_error(stt_on, report_path):
    error = failing_smoke("--playlist", str(PLAYLIST), "--engine", "vosk", report=report_path)

    assert error.returncode == 2
    assert "unknown STT engine 'vosk'" in str(error)


def test_a_missing_playlist_is_a_usage_error_that_names_it(stt_on, tmp_path, report_path):
    missing = tmp_path / "no" / "playlist.json"

    error = failing_smoke("--playlist", str(missing), report=report_path)

    assert (error.returncode, str(error)) == (2, f"playlist {missing} does not exist")


def test_a_playlist_that_is_not_json_is_a_usage_error(stt_on, tmp_path, report_path):
    broken = tmp_path / "playlist.json"
    broken.write_text("{items: [", encoding="utf-8")

    error = failing_smoke("--playlist", str(broken), report=report_path)

    assert error.returncode == 2
    assert str(error).startswith(f"playlist {broken} is not valid JSON")


def test_a_call_id_given_twice_is_a_usage_error(stt_on, tmp_path, report_path):
    playlist = copy_playlist(tmp_path, call_id="smoke-es-buenos-dias")

    error = failing_smoke("--playlist", str(playlist), report=report_path)

    assert error.returncode == 2
    assert "'smoke-es-buenos-dias' appears twice" in str(error)


def test_a_directory_is_a_playlist_whose_file_stems_are_the_call_ids(stt_on, report_path):
    smoke("--playlist", str(SMOKE_DATA / "audio"), report=report_path)

    report = read_report(report_path)
    assert [entry["call_id"] for entry in report["entries"]] == [
        "en_hello_world",
        "es_buenos_dias",
        "fr_bonjour_tout_le_monde",
        "silence",
    ]
    assert {entry["record_id"] for entry in report["entries"]} == {None}
    # The manifest one level up still gates the clips.
    assert report["summary"]["success"] == 4


def test_directory_mode_takes_only_the_files_the_patterns_match(stt_on, report_path):
    smoke("--playlist", str(SMOKE_DATA / "audio"), "--pattern", "en_*", "--pattern", "fr_*.wav", report=report_path)

    entries = read_report(report_path)["entries"]
    assert [entry["source_file"] for entry in entries] == ["en_hello_world.wav", "fr_bonjour_tout_le_monde.wav"]
    assert "- Patterns: `en_*`, `fr_*.wav`" in report_path.with_suffix(".md").read_text(encoding="utf-8")


def test_a_directory_without_matching_files_is_a_usage_error(stt_on, tmp_path, report_path):
    (tmp_path / "notes.txt").write_text("not audio", encoding="utf-8")

    error = failing_smoke("--playlist", str(tmp_path), report=report_path)

    assert error.returncode == 2
    assert str(error) == f"no file in {tmp_path} matches *.wav, *.mp3, *.m4a, *.flac, *.ogg"


def copy_playlist(tmp_path: Path, **first_item: str) -> Path:
    """The shipped playlist and its clips under ``tmp_path``, with the first item changed."""
    folder = tmp_path / "playlist"
    shutil.copytree(SMOKE_DATA / "audio", folder / "audio")
    shutil.copy(SMOKE_DATA / "manifest.json", folder)
    playlist = json.loads(PLAYLIST.read_text(encoding="utf-8"))
    playlist["items"][0].update(first_item)
    (folder / "playlist.json").write_text(json.dumps(playlist), encoding="utf-8")
    return folder / "playlist.json"
