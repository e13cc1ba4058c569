"""The STT smoke check (spec 03, STT-50…STT-54): a short playlist through the production provider code.

:func:`load_playlist` reads a ``playlist.json`` or a directory of audio
files, :func:`run_smoke` transcribes every item with
:func:`integrations.stt.transcribe_recording` — the function the pipeline
calls — writes one ``<call_id>.txt`` per item and returns a
:class:`SmokeReport`, which renders the JSON and Markdown reports.

Quality gate (STT-54, expected): an item with an expected text — the item's
``expected_transcript``, else ``expected/transcripts/<call_id>.txt`` beside the
playlist, else the ``text`` of its clip in a ``manifest.json`` — fails with
``quality_below_threshold`` when the word error rate is above
:data:`MAX_WORD_ERROR_RATE`, when the detected language is not the expected
one, or when the cost differs from ``expected_cost_usd``.  The ``stub`` engine
answers a fixed placeholder by design, so it is not gated: with it the smoke
check proves decoding, chunking, silence detection and the reports only.
"""

from __future__ import annotations

import dataclasses
import json
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from calls.storage import sanitise
from integrations.stt import (
    STUB_ENGINE,
    ChunkTranscriber,
    RecordingSettings,
    RecordingTranscript,
    TranscriptionError,
    iso_639_1,
    probe,
    transcribe_recording,
)

DEFAULT_PATTERNS = ("*.wav", "*.mp3", "*.m4a", "*.flac", "*.ogg")
MAX_WORD_ERROR_RATE = 0.25
QUALITY_CODE = "quality_below_threshold"
# STT-56: the smoke and report label for a recording that cannot be read at all.
MISSING_AUDIO_CODE = "missing_audio"
CENT = Decimal("0.01")


class SmokeUsageError(Exception):
    """The playlist or the options cannot be used; the command exits 2 (STT-53)."""


@dataclass(frozen=True)
class Expected:
    text: str | None = None
    language: str | None = None
    cost_usd: Decimal | None = None


@dataclass(frozen=True)
class SmokeItem:
    call_id: str
    record_id: str | None
    audio_path: Path
    source_file: str
    expected: Expected


@dataclass(frozen=True)
class Playlist:
    path: Path
    name: str
    engine: str | None
    language: str | None
    # Directory mode only: the globs that chose the files.
    patterns: tuple[str, ...]
    items: tuple[SmokeItem, ...]


@dataclass(frozen=True)
class SmokeEntry:
    item: SmokeItem
    succeeded: bool
    language: str | None
    audio_duration_seconds: float | None
    elapsed_seconds: float
    transcript_path: Path | None = None
    cost_usd: Decimal = Decimal(0)
    no_speech: bool = False
    error_code: str | None = None
    error_message: str | None = None

    def as_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "call_id": self.item.call_id,
            "record_id": self.item.record_id,
            "source_file": self.item.source_file,
            "status": "success" if self.succeeded else "failure",
            "language": self.language,
            "audio_duration_seconds": self.audio_duration_seconds,
            "elapsed_seconds": self.elapsed_seconds,
        }
        if self.succeeded:
            # Money as a string at full precision, as stored on the record (STT-10).
            entry.update(transcript_path=shown(self.transcript_path), cost_usd=str(self.cost_usd))
        else:
            entry.update(error_code=self.error_code, error_message=self.error_message)
        return entry


@dataclass(frozen=True)
class SmokeReport:
    generated_at: datetime
    playlist: Playlist
    engine: str
    language: str | None
    output_dir: Path
    entries: tuple[SmokeEntry, ...]

    @property
    def success(self) -> int:
        return sum(entry.succeeded for entry in self.entries)

    @property
    def failed(self) -> int:
        return len(self.entries) - self.success

    @property
    def duration_minutes(self) -> float:
        seconds = sum(entry.audio_duration_seconds or 0 for entry in self.entries)
        return round(seconds / 60, 2)

    @property
    def cost_usd(self) -> Decimal:
        """As for a run (STT-10): the unrounded costs added up, then rounded half-up to cents once."""
        return sum((entry.cost_usd for entry in self.entries), Decimal(0)).quantize(CENT, rounding=ROUND_HALF_UP)

    def as_json(self) -> dict[str, Any]:
        return {
            "generated_at": self.generated_at.isoformat(timespec="seconds"),
            "playlist": shown(self.playlist.path),
            "engine": self.engine,
            "language": self.language,
            "output_dir": shown(self.output_dir),
            "summary": {
                "total": len(self.entries),
                "success": self.success,
                "failed": self.failed,
                "duration_minutes": self.duration_minutes,
                "cost_usd": str(self.cost_usd),
            },
            "entries": [entry.as_json() for entry in self.entries],
        }

    def as_markdown(self) -> str:
        lines = [
            f"# STT smoke check: {self.playlist.name}",
            "",
            f"- Generated at: {self.generated_at.isoformat(timespec='seconds')}",
            f"- Playlist: `{shown(self.playlist.path)}`",
            f"- Engine: {self.engine}",
            f"- Language hint: {self.language or 'none (detected)'}",
            f"- Patterns: {', '.join(f'`{p}`' for p in self.playlist.patterns) or '— (playlist file)'}",
            f"- Transcripts: `{shown(self.output_dir)}`",
            f"- Totals: {len(self.entries)} file(s), {self.success} succeeded, {self.failed} failed, "
            f"{self.duration_minutes} min, {self.cost_usd} USD",
            "",
            "| File | Status | Duration (s) | Transcript | Error |",
            "| --- | --- | --- | --- | --- |",
        ]
        for entry in self.entries:
            status = "success" if entry.succeeded else "failure"
            if entry.no_speech:
                status += " (no speech, nothing sent)"
            duration = "" if entry.audio_duration_seconds is None else f"{entry.audio_duration_seconds:.3f}"
            transcript = f"`{shown(entry.transcript_path)}`" if entry.transcript_path else ""
            error = f"`{entry.error_code}` {_cell(entry.error_message or '')}" if entry.error_code else ""
            lines.append(f"| `{entry.item.source_file}` | {status} | {duration} | {transcript} | {error} |")
        return "\n".join(lines) + "\n"


def load_playlist(path: Path, *, patterns: Sequence[str] = DEFAULT_PATTERNS) -> Playlist:
    """A ``playlist.json`` (STT-51) or a directory of audio files, whose stems become the call ids."""
    if path.is_dir():
        return _directory_playlist(path, tuple(patterns))
    if not path.is_file():
        raise SmokeUsageError(f"playlist {path} does not exist")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise SmokeUsageError(f"playlist {path} is not valid JSON: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("items"), list) or not data["items"]:
        raise SmokeUsageError(f"playlist {path} needs a non-empty list of items")
    folder = path.parent
    manifest = _manifest(folder)
    items = tuple(_playlist_item(folder, raw, number, manifest) for number, raw in enumerate(data["items"], 1))
    _refuse_duplicate_call_ids(items)
    return Playlist(
        path=path,
        name=str(data.get("name") or folder.name),
        engine=data.get("engine") or None,
        language=_language(data.get("language"), f"playlist {path}"),
        patterns=(),
        items=items,
    )


def _directory_playlist(folder: Path, patterns: tuple[str, ...]) -> Playlist:
    try:
        files = sorted({file for pattern in patterns for file in folder.glob(pattern) if file.is_file()})
    except ValueError as error:  # pathlib refuses "" and absolute patterns
        raise SmokeUsageError(f"pattern refused: {error}") from None
    if not files:
        raise SmokeUsageError(f"no file in {folder} matches {', '.join(patterns)}")
    # A manifest beside the files or one level up (tests/data/stt_smoke/audio/ has it in its parent).
    manifest = _manifest(folder) or _manifest(folder.parent)
    items = tuple(
        SmokeItem(
            call_id=file.stem,
            record_id=None,
            audio_path=file,
            source_file=str(file.relative_to(folder)),
            expected=manifest.get(file.name, Expected()),
        )
        for file in files
    )
    _refuse_duplicate_call_ids(items)
    return Playlist(path=folder, name=folder.name, engine=None, language=None, patterns=patterns, items=items)


def _playlist_item(folder: Path, raw: Any, number: int, manifest: dict[str, Expected]) -> SmokeItem:
    where = f"item {number}"
    if not isinstance(raw, dict) or not raw.get("call_id") or not raw.get("audio"):
        raise SmokeUsageError(f"{where} needs call_id and audio")
    call_id, audio = str(raw["call_id"]), str(raw["audio"])
    clip = manifest.get(audio, Expected())
    text = raw.get("expected_transcript")
    expected_file = folder / "expected" / "transcripts" / f"{sanitise(call_id)}.txt"
    if text is None and expected_file.is_file():
        text = expected_file.read_text(encoding="utf-8")
    # ``recording_url`` only says where a clip came from: the smoke check reads the local file.
    return SmokeItem(
        call_id=call_id,
        record_id=None if raw.get("record_id") is None else str(raw["record_id"]),
        audio_path=folder / "audio" / audio,
        source_file=f"audio/{audio}",
        expected=Expected(
            text=clip.text if text is None else str(text),
            language=_language(raw.get("language"), where) or clip.language,
            cost_usd=_cost(raw.get("expected_cost_usd"), where),
        ),
    )


def _manifest(folder: Path) -> dict[str, Expected]:
    """STT-52's ``manifest.json``: expected text and language by clip file name."""
    path = folder / "manifest.json"
    if not path.is_file():
        return {}
    try:
        clips = json.loads(path.read_text(encoding="utf-8"))["clips"]
        return {
            clip["filename"]: Expected(text=clip.get("text"), language=iso_639_1(clip.get("language")))
            for clip in clips
        }
    except (ValueError, KeyError, TypeError) as error:
        raise SmokeUsageError(f"manifest {path} cannot be read: {error!r}") from None


def _language(value: Any, where: str) -> str | None:
    if value in (None, ""):
        return None
    code = iso_639_1(str(value))
    if not code:
        raise SmokeUsageError(f"{where}: language {value!r} is not an ISO 639-1 code or a language name")
    return code


def _cost(value: Any, where: str) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise SmokeUsageError(f"{where}: expected_cost_usd {value!r} is not a number") from None


def _refuse_duplicate_call_ids(items: tuple[SmokeItem, ...]) -> None:
    # The call id names the transcript file; a second item would overwrite the first one's.
    seen: set[str] = set()
    for item in items:
        key = sanitise(item.call_id)
        if key in seen:
            raise SmokeUsageError(f"call_id {item.call_id!r} appears twice; each item writes <call_id>.txt")
        seen.add(key)


def language_hint_for(option: str | None, playlist: Playlist) -> str | None:
    """``--language``, else the playlist's ``language``; raises :class:`SmokeUsageError` for an unknown code.

    ``STT_DEFAULT_LANGUAGE`` is deliberately not used: the playlist describes
    its own clips, and a production default of ``ru`` would force Russian on
    the English clip and fail the language check for the wrong reason.
    """
    return _language(option, "--language") or playlist.language


def output_dir_for(report_path: Path, now: datetime) -> Path:
    """``stt_smoke/<UTC YYYYMMDDTHHMMSSZ>/`` beside the report: ``build/stt_smoke/…`` for the default report."""
    return report_path.parent / "stt_smoke" / now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def run_smoke(
    playlist: Playlist,
    *,
    transcriber: ChunkTranscriber,
    settings: RecordingSettings,
    engine: str,
    language: str | None,
    output_dir: Path,
    now: datetime,
) -> SmokeReport:
    """Transcribe every item, in order; one item's failure never stops the others."""
    output_dir.mkdir(parents=True, exist_ok=True)
    gated = engine != STUB_ENGINE
    entries = tuple(
        _smoke_item(
            item, transcriber=transcriber, settings=settings, language=language, output_dir=output_dir, gated=gated
        )
        for item in playlist.items
    )
    return SmokeReport(
        generated_at=now, playlist=playlist, engine=engine, language=language, output_dir=output_dir, entries=entries
    )


def _smoke_item(
    item: SmokeItem,
    *,
    transcriber: ChunkTranscriber,
    settings: RecordingSettings,
    language: str | None,
    output_dir: Path,
    gated: bool,
) -> SmokeEntry:
    started = time.monotonic()
    if not item.audio_path.is_file():
        return _failure(item, started, MISSING_AUDIO_CODE, f"{item.source_file} does not exist")
    try:
        result = transcribe_recording(item.audio_path, client=transcriber, settings=settings, language=language)
    except TranscriptionError as error:
        return _failure(item, started, error.error_code, str(error))
    except Exception as error:  # a smoke check reports every item, whatever one of them raises
        return _failure(item, started, "unexpected_error", f"{error.__class__.__name__}: {error}")

    # Written for a failed gate too: the text is what one reads to see why it failed.
    transcript_path = output_dir / f"{sanitise(item.call_id)}.txt"
    transcript_path.write_text(result.text + "\n" if result.text else "", encoding="utf-8")
    entry = SmokeEntry(
        item,
        succeeded=True,
        language=result.language,
        audio_duration_seconds=round(result.duration_seconds, 3),
        elapsed_seconds=_elapsed(started),
        transcript_path=transcript_path,
        cost_usd=result.cost_usd,
        no_speech=result.no_speech,
    )
    problems = quality_problems(result, item.expected) if gated else []
    if problems:
        # A transcription that failed the gate was still paid for.
        return dataclasses.replace(entry, succeeded=False, error_code=QUALITY_CODE, error_message="; ".join(problems))
    return entry


def _failure(item: SmokeItem, started: float, code: str, message: str) -> SmokeEntry:
    return SmokeEntry(
        item,
        succeeded=False,
        language=None,
        audio_duration_seconds=_probed_seconds(item.audio_path) if item.audio_path.is_file() else None,
        elapsed_seconds=_elapsed(started),
        error_code=code,
        error_message=message,
    )


def quality_problems(result: RecordingTranscript, expected: Expected) -> list[str]:
    """What fails the quality gate (STT-54); an empty list passes."""
    problems = []
    if expected.text is not None:
        rate = word_error_rate(expected.text, result.text)
        if rate > MAX_WORD_ERROR_RATE:
            problems.append(f"word error rate {rate:.2f} is above {MAX_WORD_ERROR_RATE}")
    if expected.language and result.language != expected.language:
        problems.append(f"language {result.language or 'not reported'}, expected {expected.language}")
    if expected.cost_usd is not None and result.cost_usd != expected.cost_usd:
        problems.append(f"cost {result.cost_usd} USD, expected {expected.cost_usd}")
    return problems


def normalised_words(text: str) -> list[str]:
    """Lower case, punctuation and symbols dropped, split on white space: "Hello, world!" → ["hello", "world"]."""
    kept = "".join(" " if unicodedata.category(char)[0] in "PS" else char for char in text.casefold())
    return kept.split()


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word-level Levenshtein distance (substitutions, insertions, deletions) ÷ reference words, normalised.

    An empty reference is matched only by an empty hypothesis (0.0); anything else is 1.0.
    """
    expected, heard = normalised_words(reference), normalised_words(hypothesis)
    if not expected:
        return 0.0 if not heard else 1.0
    previous = list(range(len(heard) + 1))
    for row, word in enumerate(expected, 1):
        current = [row]
        for column, candidate in enumerate(heard, 1):
            substituted = previous[column - 1] + (word != candidate)
            current.append(min(previous[column] + 1, current[column - 1] + 1, substituted))
        previous = current
    return previous[-1] / len(expected)


def write_reports(report: SmokeReport, *, json_path: Path, markdown_path: Path) -> None:
    for path in (json_path, markdown_path):
        path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report.as_json(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    markdown_path.write_text(report.as_markdown(), encoding="utf-8")


def shown(path: Path | None) -> str | None:
    """A path as the report shows it: relative to the working directory when inside it."""
    if path is None:
        return None
    absolute = path.absolute()
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)


def _probed_seconds(path: Path) -> float | None:
    """The header's duration for a failed item, when the file can be opened at all."""
    try:
        return round(probe(path).duration_seconds, 3)
    except (TranscriptionError, OSError):
        return None


def _elapsed(started: float) -> float:
    return round(time.monotonic() - started, 3)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
