"""One recording to text (STT-02, STT-04, STT-05, STT-10).

:func:`transcribe_recording` probes the file, refuses one over the duration
limit before anything is sent, sends a mono MP3 or WAV that fits in one
upload as it is stored and splits anything else into re-encoded upload
chunks (per channel for a two-party stereo recording), skips silent chunks, transcribes the others in
order and returns a :class:`RecordingTranscript`.

Stereo: telephony often records the operator on one channel and the client
on the other.  Each channel is then transcribed on its own and the segments
are merged by time into a dialogue, one line per turn
("Оператор: …" / "Клиент: …").  With a model that returns no segment times
(json or text answers), a chunk's text is placed at the chunk's start, so turns
are ordered only to the chunk.

Cost: the provider bills the audio it receives, so billable seconds are the
seconds of the chunks sent — silent chunks cost nothing, and both channels of
a dialogue count.  For a mono recording with speech throughout that is the
recording's duration (STT-10).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from integrations.stt.audio import (
    AudioChunk,
    AudioInfo,
    AudioSource,
    as_stored,
    has_distinct_channels,
    probe,
    split_for_upload,
)
from integrations.stt.client import ChunkTranscriber, ChunkTranscript, TranscribedSegment
from integrations.stt.cost import billable_minutes, transcription_cost
from integrations.stt.errors import DurationLimitExceeded
from integrations.stt.languages import iso_639_1

logger = logging.getLogger(__name__)

OPERATOR_LABEL = "Оператор"
CLIENT_LABEL = "Клиент"


@dataclass(frozen=True)
class RecordingSettings:
    """Limits and choices for one recording; built from the configuration by the factory."""

    max_recording_seconds: float
    max_chunk_seconds: float
    max_chunk_bytes: int
    silence_threshold_dbfs: float
    operator_channel: int
    rate_per_minute_usd: Decimal
    duration_hint: str


@dataclass(frozen=True)
class Segment:
    """Text with its times in seconds from the start of the recording; ``speaker`` only in a dialogue."""

    start: float
    end: float
    text: str
    speaker: str | None


@dataclass(frozen=True)
class RecordingTranscript:
    text: str
    language: str | None
    duration_seconds: float
    billable_seconds: float
    cost_usd: Decimal
    chunk_count: int
    silent_chunk_count: int
    segments: tuple[Segment, ...]
    dialogue: bool
    no_speech: bool
    audio: AudioInfo
    model: str
    request_ids: tuple[str, ...]

    @property
    def billable_minutes(self) -> int:
        return billable_minutes(self.billable_seconds)


def language_hint(*candidates: str | None) -> str | None:
    """STT-05: the first usable candidate as ISO 639-1 (override, then the job's, then the default)."""
    return next((code for code in map(iso_639_1, candidates) if code), None)


def transcribe_recording(
    source: AudioSource,
    *,
    client: ChunkTranscriber,
    settings: RecordingSettings,
    language: str | None = None,
) -> RecordingTranscript:
    """Transcribe a stored recording; raises a :class:`~integrations.stt.errors.TranscriptionError` on failure.

    A recording with no speech anywhere sends nothing and comes back with
    ``no_speech=True``, empty text and zero cost.
    """
    audio = probe(source)
    if audio.duration_seconds > settings.max_recording_seconds:
        raise DurationLimitExceeded(
            f"the recording lasts {audio.duration_seconds / 60:.1f} min, "
            f"more than the {settings.max_recording_seconds / 60:g} min limit; {settings.duration_hint}"
        )
    dialogue = audio.channels == 2 and has_distinct_channels(
        source, silence_threshold_dbfs=settings.silence_threshold_dbfs
    )
    limits: dict[str, Any] = {
        "max_chunk_seconds": settings.max_chunk_seconds,
        "max_chunk_bytes": settings.max_chunk_bytes,
        "silence_threshold_dbfs": settings.silence_threshold_dbfs,
    }
    stored = None if dialogue else as_stored(source, audio, **limits)
    chunks = [stored] if stored is not None else split_for_upload(source, split_channels=dialogue, **limits)
    transcribed: list[tuple[AudioChunk, ChunkTranscript]] = []
    chunk_count = silent_count = 0
    duration = 0.0
    for chunk in chunks:
        chunk_count += 1
        duration = max(duration, chunk.end_seconds)
        if chunk.silent:
            silent_count += 1
            continue
        transcribed.append((chunk, client.transcribe(chunk.data, filename=chunk.filename, language=language)))

    segments = _segments(transcribed, dialogue=dialogue, operator_channel=settings.operator_channel)
    if dialogue:
        text = _dialogue_text(segments)
    else:
        text = "\n".join(answer.text for _, answer in transcribed if answer.text)
    billable = sum((answer.duration_seconds or chunk.duration_seconds for chunk, answer in transcribed), 0.0)
    result = RecordingTranscript(
        text=text,
        language=_language(transcribed) or language_hint(language),
        duration_seconds=duration,
        billable_seconds=billable,
        cost_usd=transcription_cost(billable, settings.rate_per_minute_usd),
        chunk_count=chunk_count,
        silent_chunk_count=silent_count,
        segments=segments,
        dialogue=dialogue,
        no_speech=silent_count == chunk_count,
        audio=audio,
        model=client.model,
        request_ids=tuple(answer.request_id for _, answer in transcribed if answer.request_id),
    )
    logger.info(
        "stt.recording",
        extra={
            "event": "stt.recording",
            "chunks": chunk_count,
            "silent_chunks": silent_count,
            "dialogue": dialogue,
            "duration_seconds": round(duration, 3),
            "billable_seconds": round(billable, 3),
        },
    )
    return result


def _speaker(channel: int | None, operator_channel: int) -> str:
    return OPERATOR_LABEL if channel == operator_channel else CLIENT_LABEL


def _segments(
    transcribed: list[tuple[AudioChunk, ChunkTranscript]], *, dialogue: bool, operator_channel: int
) -> tuple[Segment, ...]:
    segments = []
    for chunk, answer in transcribed:
        speaker = _speaker(chunk.channel, operator_channel) if dialogue else None
        pieces = answer.segments
        if not pieces and answer.text:
            pieces = (TranscribedSegment(0.0, chunk.duration_seconds, answer.text),)
        for piece in pieces:
            segments.append(
                Segment(chunk.start_seconds + piece.start, chunk.start_seconds + piece.end, piece.text, speaker)
            )
    # Chunks come channel 0 first within each window; a stable sort by start keeps that for ties.
    segments.sort(key=lambda segment: segment.start)
    return tuple(segments)


def _dialogue_text(segments: tuple[Segment, ...]) -> str:
    turns: list[tuple[str | None, list[str]]] = []
    for segment in segments:
        if turns and turns[-1][0] == segment.speaker:
            turns[-1][1].append(segment.text)
        else:
            turns.append((segment.speaker, [segment.text]))
    return "\n".join(f"{speaker}: {' '.join(texts)}" for speaker, texts in turns)


def _language(transcribed: list[tuple[AudioChunk, ChunkTranscript]]) -> str | None:
    """The language reported for most of the transcribed seconds."""
    seconds: defaultdict[str, float] = defaultdict(float)
    for chunk, answer in transcribed:
        if answer.language:
            seconds[answer.language] += chunk.duration_seconds
    # The first of equals, as Counter.most_common did (a Counter counts integers for the type checker).
    return max(seconds, key=seconds.__getitem__) if seconds else None
