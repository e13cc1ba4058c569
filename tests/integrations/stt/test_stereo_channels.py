"""Telling a two-party stereo recording from dual mono, and splitting its channels."""

from __future__ import annotations

import io

from integrations.stt.audio import has_distinct_channels, split_for_upload
from tests.fakes.audio import encoded, silence, tone, wav


def distinct(recording: bytes) -> bool:
    return has_distinct_channels(io.BytesIO(recording), silence_threshold_dbfs=-45.0)


def test_two_speakers_on_two_channels_are_distinct():
    operator = tone(440, 1, rate=8000) + silence(1, rate=8000)
    client = silence(1, rate=8000) + tone(660, 1, rate=8000)

    assert distinct(encoded(operator, client, container="mp3", rate=8000))


def test_the_same_mix_on_both_channels_is_not_distinct():
    mix = tone(440, 1, rate=8000) + silence(0.5, rate=8000) + tone(660, 1, rate=8000)

    assert not distinct(encoded(mix, mix, container="mp3", rate=8000))


def test_silence_on_both_channels_is_not_distinct():
    assert not distinct(wav(silence(2), silence(2)))


def test_a_mono_recording_is_not_distinct():
    assert not distinct(wav(tone(440, 1)))


def test_split_channels_yield_channel_0_then_channel_1_for_each_stretch_of_time():
    operator = tone(440, 2) + silence(2)
    client = silence(2) + tone(660, 2)

    chunks = list(
        split_for_upload(
            io.BytesIO(wav(operator, client)),
            max_chunk_seconds=2,
            max_chunk_bytes=25 * 1024 * 1024,
            silence_threshold_dbfs=-45.0,
            split_channels=True,
        )
    )

    assert [(chunk.index, chunk.channel, chunk.start_seconds) for chunk in chunks] == [
        (0, 0, 0.0),
        (0, 1, 0.0),
        (1, 0, 2.0),
        (1, 1, 2.0),
    ]
    assert [chunk.silent for chunk in chunks] == [False, True, True, False]
    assert chunks[1].filename == "chunk-000-ch1.mp3"
