"""Probing stored recordings with PyAV: format, codec, layout, duration and the storage extension (STT-04, STT-20)."""

from __future__ import annotations

import io

import pytest

from integrations.stt.audio import probe, storage_extension
from integrations.stt.errors import AudioConversionFailed
from tests.fakes.audio import encoded, tone, wav


def test_it_reads_the_container_codec_channels_rate_and_duration_of_an_mp3():
    recording = encoded(tone(440, 3, rate=8000), tone(660, 3, rate=8000), container="mp3", rate=8000)

    info = probe(io.BytesIO(recording))

    assert (info.container, info.codec, info.channels, info.sample_rate) == ("mp3", "mp3", 2, 8000)
    assert info.duration_seconds == pytest.approx(3.0, abs=0.05)


@pytest.mark.parametrize(
    ("container", "codec", "extension"),
    [
        ("mp3", "mp3", ".mp3"),
        ("wav", "pcm_s16le", ".wav"),
        ("ogg", "opus", ".ogg"),
        ("ipod", "aac", ".m4a"),
        ("flac", "flac", ".flac"),
    ],
)
def test_the_storage_extension_follows_the_real_format_not_the_file_name(container, codec, extension):
    info = probe(io.BytesIO(encoded(tone(440, 1), container=container)))

    assert (info.codec, info.extension) == (codec, extension)


def test_a_format_without_a_known_extension_is_stored_as_mp3():
    assert storage_extension("voc") == ".mp3"


def test_it_reads_a_stored_file_by_path(tmp_path):
    path = tmp_path / "call_1.bin"
    path.write_bytes(wav(tone(440, 2)))

    info = probe(path)

    assert (info.container, info.channels, info.duration_seconds) == ("wav", 1, 2.0)


def test_an_html_page_instead_of_audio_is_an_audio_conversion_failure_that_is_not_retried():
    with pytest.raises(AudioConversionFailed) as caught:
        probe(io.BytesIO(b"<!DOCTYPE html><html><body>Login</body></html>" * 20))

    assert (caught.value.error_code, caught.value.retryable) == ("audio_conversion_failed", False)


def test_a_missing_file_is_a_storage_problem_not_a_conversion_failure(tmp_path):
    with pytest.raises(FileNotFoundError):
        probe(tmp_path / "absent.mp3")
