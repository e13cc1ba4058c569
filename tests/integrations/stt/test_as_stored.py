"""A mono MP3 or WAV that fits in one upload is sent as stored; everything else is re-encoded as before."""

from __future__ import annotations

import dataclasses
import hashlib
import io

from integrations.stt.recording import transcribe_recording
from tests.fakes.audio import encoded, noise, silence, tone, wav
from tests.integrations.stt.test_recording import SETTINGS


def transcribe(client, recording: bytes, **changes):
    settings = dataclasses.replace(SETTINGS, **changes)
    return transcribe_recording(io.BytesIO(recording), client=client, settings=settings)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_mono_mp3_under_the_limits_is_sent_byte_for_byte(make_client, fake_openai):
    recording = encoded(tone(440, 2), container="mp3")

    result = transcribe(make_client(), recording)

    (upload,) = fake_openai.transcriptions()
    assert (upload.file_name, upload.file_size, upload.file_sha256) == (
        "chunk-000.mp3",
        len(recording),
        sha256(recording),
    )
    assert (result.text, result.chunk_count) == ("тон 440", 1)
    assert result.billable_seconds == upload.duration_seconds


def test_a_mono_wav_under_the_limits_is_sent_byte_for_byte(make_client, fake_openai):
    recording = wav(silence(0.3) + tone(660, 1))

    result = transcribe(make_client(), recording)

    (upload,) = fake_openai.transcriptions()
    assert (upload.file_name, upload.file_format, upload.file_sha256) == ("chunk-000.wav", "wav", sha256(recording))
    assert result.text == "тон 660"


def test_a_silent_mono_mp3_is_measured_and_not_sent(make_client, fake_openai):
    result = transcribe(make_client(), encoded(silence(1) + noise(1, dbfs=-60), container="mp3"))

    assert (result.no_speech, result.silent_chunk_count, result.billable_seconds) == (True, 1, 0)
    assert fake_openai.transcriptions() == []


def test_a_mono_mp3_over_the_size_limit_is_re_encoded_in_chunks(make_client, fake_openai):
    recording = encoded(tone(440, 6), container="mp3", bit_rate=128_000)

    transcribe(make_client(), recording, max_chunk_bytes=min(len(recording) - 1, 16_000))

    uploads = fake_openai.transcriptions()
    assert len(uploads) > 1
    assert all(upload.file_sha256 != sha256(recording) and upload.file_size <= 16_000 for upload in uploads)


def test_a_mono_wav_longer_than_one_chunk_is_re_encoded_in_chunks(make_client, fake_openai):
    transcribe(make_client(), wav(tone(300, 1) + tone(400, 1)), max_chunk_seconds=1)

    assert [upload.file_name for upload in fake_openai.transcriptions()] == ["chunk-000.mp3", "chunk-001.mp3"]


def test_a_mono_ogg_is_re_encoded_to_mp3(make_client, fake_openai):
    recording = encoded(tone(440, 1), container="ogg")

    transcribe(make_client(), recording)

    (upload,) = fake_openai.transcriptions()
    assert (upload.file_name, upload.file_format) == ("chunk-000.mp3", "mp3")


def test_a_stereo_mp3_of_one_mix_is_re_encoded_to_mono(make_client, fake_openai):
    mix = tone(440, 1)

    transcribe(make_client(), encoded(mix, mix, container="mp3"))

    (upload,) = fake_openai.transcriptions()
    assert (upload.file_name, upload.file_format) == ("chunk-000.mp3", "mp3")
    assert upload.file_sha256 != sha256(encoded(mix, mix, container="mp3"))
