"""Splitting recordings into upload chunks: format, order, length and size limits (STT-04)."""

from __future__ import annotations

import io

import pytest

from integrations.stt.audio import (
    UPLOAD_HEADER_BYTES,
    UPLOAD_SAMPLE_RATE,
    probe,
    split_for_upload,
    upload_seconds_limit,
)
from tests.fakes.audio import encoded, silence, tone, wav

MB = 1024 * 1024


def chunks_of(recording: bytes, **limits):
    limits = {"max_chunk_seconds": 600, "max_chunk_bytes": 25 * MB, "silence_threshold_dbfs": -45.0, **limits}
    return list(split_for_upload(io.BytesIO(recording), **limits))


def test_a_short_recording_becomes_one_mono_16_khz_mp3_chunk():
    [chunk] = chunks_of(encoded(tone(440, 2, rate=8000), tone(660, 2, rate=8000), container="mp3", rate=8000))

    uploaded = probe(io.BytesIO(chunk.data))
    assert (uploaded.container, uploaded.channels, uploaded.sample_rate) == ("mp3", 1, UPLOAD_SAMPLE_RATE)
    assert (chunk.index, chunk.channel, chunk.start_seconds, chunk.duration_seconds) == (0, None, 0.0, 2.0)
    assert chunk.filename == "chunk-000.mp3"


def test_a_recording_longer_than_the_chunk_length_is_split_into_equal_chunks_in_order():
    chunks = chunks_of(wav(tone(440, 5)), max_chunk_seconds=2)

    assert [chunk.index for chunk in chunks] == [0, 1, 2]
    assert [round(chunk.start_seconds, 3) for chunk in chunks] == [0.0, 1.667, 3.333]
    assert sum(chunk.duration_seconds for chunk in chunks) == pytest.approx(5.0)
    assert all(chunk.duration_seconds <= 2 for chunk in chunks)


def test_every_chunk_stays_under_the_size_limit():
    limit = UPLOAD_HEADER_BYTES + 9_000  # about two seconds at 32 kbps

    chunks = chunks_of(wav(tone(440, 6)), max_chunk_bytes=limit)

    assert len(chunks) == 3
    assert all(len(chunk.data) <= limit for chunk in chunks)


def test_the_size_limit_and_the_length_limit_give_the_shorter_chunk():
    assert upload_seconds_limit(max_chunk_seconds=600, max_chunk_bytes=25 * MB) == 600
    assert upload_seconds_limit(max_chunk_seconds=600, max_chunk_bytes=1 * MB) == pytest.approx(248.7, abs=0.1)


def test_limits_that_leave_less_than_a_second_per_chunk_are_refused():
    with pytest.raises(ValueError, match="too short"):
        upload_seconds_limit(max_chunk_seconds=600, max_chunk_bytes=UPLOAD_HEADER_BYTES + 1000)


def test_chunks_cover_the_whole_recording_with_nothing_lost_at_the_end():
    chunks = chunks_of(encoded(tone(440, 2) + silence(1) + tone(880, 1), container="mp3"), max_chunk_seconds=1)

    assert [chunk.silent for chunk in chunks] == [False, False, True, False]
    assert chunks[-1].end_seconds == pytest.approx(4.0, abs=0.05)
