"""Which chunks hold speech: loud 100 ms windows adding up to 0.2 s, at the configured threshold."""

from __future__ import annotations

import io

from integrations.stt.audio import split_for_upload
from tests.fakes.audio import noise, silence, speech_like, tone, wav


def only_chunk(recording: bytes, threshold_dbfs: float = -45.0):
    [chunk] = split_for_upload(
        io.BytesIO(recording),
        max_chunk_seconds=600,
        max_chunk_bytes=25 * 1024 * 1024,
        silence_threshold_dbfs=threshold_dbfs,
    )
    return chunk


def test_digital_silence_is_silent():
    chunk = only_chunk(wav(silence(3)))

    assert chunk.silent
    assert chunk.speech_seconds == 0


def test_quiet_line_noise_is_silent_at_the_default_threshold():
    chunk = only_chunk(wav(noise(3, dbfs=-60)))

    assert chunk.silent
    assert -62 < chunk.loudest_dbfs < -57


def test_line_noise_counts_as_speech_when_the_threshold_is_set_below_it():
    assert not only_chunk(wav(noise(3, dbfs=-60)), threshold_dbfs=-70).silent


def test_speech_like_bursts_are_speech():
    chunk = only_chunk(wav(speech_like(3)))

    assert not chunk.silent
    assert chunk.speech_seconds > 1


def test_a_short_answer_in_a_long_pause_is_speech():
    chunk = only_chunk(wav(silence(5) + tone(500, 0.5) + silence(4.5)))

    assert not chunk.silent
    assert chunk.speech_seconds == 0.5


def test_a_click_is_not_speech():
    assert only_chunk(wav(silence(1) + noise(0.05, dbfs=-10) + silence(1))).silent
