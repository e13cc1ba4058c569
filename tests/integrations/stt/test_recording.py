"""One recording to text through the fake OpenAI: chunks in order, stereo dialogue, silence, limits, cost."""

from __future__ import annotations

import dataclasses
import io
from decimal import Decimal

import pytest

from integrations.stt.errors import AudioConversionFailed, DurationLimitExceeded
from integrations.stt.recording import RecordingSettings, language_hint, transcribe_recording
from tests.fakes.audio import encoded, noise, silence, tone, wav
from tests.fakes.openai import HALLUCINATIONS

SETTINGS = RecordingSettings(
    max_recording_seconds=60 * 60,
    max_chunk_seconds=10 * 60,
    max_chunk_bytes=25 * 1024 * 1024,
    silence_threshold_dbfs=-45.0,
    operator_channel=0,
    rate_per_minute_usd=Decimal("0.006"),
    duration_hint="file exceeds the allowed limits",
)


def transcribe(client, recording: bytes, **changes):
    language = changes.pop("language", None)
    settings = dataclasses.replace(SETTINGS, **changes)
    return transcribe_recording(io.BytesIO(recording), client=client, settings=settings, language=language)


def a_stereo_call() -> bytes:
    """The operator greets, the client answers, the operator replies: one second each."""
    operator = tone(440, 1) + silence(1) + tone(880, 1)
    client = silence(1) + tone(660, 1) + silence(1)
    return wav(operator, client)


def test_a_short_mono_recording_is_one_request_and_its_text(make_client, fake_openai):
    result = transcribe(make_client(), encoded(tone(440, 2), container="mp3"))

    assert result.text == "тон 440"
    assert (result.language, result.chunk_count, result.silent_chunk_count) == ("ru", 1, 0)
    assert result.duration_seconds == pytest.approx(2.0)
    assert (result.dialogue, result.no_speech) == (False, False)
    assert (result.audio.container, result.audio.extension) == ("mp3", ".mp3")
    assert result.request_ids == ("req_fake_000001",)
    assert len(fake_openai.transcriptions()) == 1


def test_a_long_recording_is_sent_in_ordered_chunks_and_their_texts_are_joined_by_lines(make_client, fake_openai):
    recording = wav(
        tone(300, 0.9) + silence(0.1) + tone(400, 0.9) + silence(0.1) + tone(500, 0.9) + silence(0.1) + tone(600, 1)
    )

    result = transcribe(make_client(), recording, max_chunk_seconds=1)

    assert result.text == "тон 300\nтон 400\nтон 500\nтон 600"
    assert result.chunk_count == 4
    assert [request.file_name for request in fake_openai.transcriptions()] == [
        "chunk-000.mp3",
        "chunk-001.mp3",
        "chunk-002.mp3",
        "chunk-003.mp3",
    ]
    assert [round(segment.start, 1) for segment in result.segments] == [0.0, 1.0, 2.0, 3.0]


def test_every_upload_is_an_mp3_under_the_size_limit_whatever_the_source_format(make_client, fake_openai):
    transcribe(make_client(), encoded(tone(440, 6), container="ogg"), max_chunk_bytes=16_000)

    uploads = fake_openai.transcriptions()
    assert len(uploads) == 3
    assert all(upload.file_format == "mp3" and upload.file_size <= 16_000 for upload in uploads)


def test_a_stereo_call_becomes_a_time_ordered_dialogue_of_operator_and_client(make_client, fake_openai):
    result = transcribe(make_client(), a_stereo_call())

    assert result.text == "Оператор: тон 440\nКлиент: тон 660\nОператор: тон 880"
    assert result.dialogue
    assert [(segment.speaker, round(segment.start, 1)) for segment in result.segments] == [
        ("Оператор", 0.0),
        ("Клиент", 1.0),
        ("Оператор", 2.0),
    ]
    assert [request.file_name for request in fake_openai.transcriptions()] == ["chunk-000-ch0.mp3", "chunk-000-ch1.mp3"]


def test_the_operator_channel_setting_swaps_the_speakers(make_client):
    result = transcribe(make_client(), a_stereo_call(), operator_channel=1)

    assert result.text == "Клиент: тон 440\nОператор: тон 660\nКлиент: тон 880"


def test_a_dialogue_across_several_chunks_stays_in_time_order(make_client, fake_openai):
    operator = tone(440, 0.8) + silence(1.2) + tone(880, 0.8) + silence(1.2)
    client = silence(1) + tone(660, 0.8) + silence(1.2) + tone(550, 0.8) + silence(0.2)

    result = transcribe(make_client(), wav(operator, client), max_chunk_seconds=2)

    assert result.text == "Оператор: тон 440\nКлиент: тон 660\nОператор: тон 880\nКлиент: тон 550"
    assert [r.file_name for r in fake_openai.transcriptions()] == [
        "chunk-000-ch0.mp3",
        "chunk-000-ch1.mp3",
        "chunk-001-ch0.mp3",
        "chunk-001-ch1.mp3",
    ]


def test_turns_of_one_speaker_in_a_row_are_one_line(make_client):
    operator = tone(440, 0.8) + silence(0.4) + tone(880, 0.8) + silence(1)
    client = silence(2) + tone(660, 1)

    result = transcribe(make_client(), wav(operator, client))

    assert result.text == "Оператор: тон 440 тон 880\nКлиент: тон 660"


def test_dual_mono_is_transcribed_once_without_speakers(make_client, fake_openai):
    mix = tone(440, 1) + silence(1) + tone(660, 1)

    result = transcribe(make_client(), encoded(mix, mix, container="mp3"))

    assert (result.text, result.dialogue) == ("тон 440 тон 660", False)
    assert len(fake_openai.transcriptions()) == 1


def test_a_dialogue_bills_the_seconds_of_both_channels(make_client):
    result = transcribe(make_client(), a_stereo_call())

    assert result.billable_seconds == pytest.approx(6.0, abs=0.1)


def test_silent_chunks_are_never_sent_so_whisper_cannot_invent_text_for_them(make_client, fake_openai):
    recording = wav(tone(440, 1) + silence(1) + noise(1, dbfs=-60) + tone(880, 1))

    result = transcribe(make_client(), recording, max_chunk_seconds=1)

    assert result.text == "тон 440\nтон 880"
    assert (result.chunk_count, result.silent_chunk_count) == (4, 2)
    assert [request.file_name for request in fake_openai.transcriptions()] == ["chunk-000.mp3", "chunk-003.mp3"]
    assert not any(invented in result.text for invented in HALLUCINATIONS)
    assert result.billable_seconds == pytest.approx(2.0, abs=0.1)


def test_a_recording_without_speech_sends_nothing_and_costs_nothing(make_client, fake_openai):
    result = transcribe(make_client(), wav(silence(2) + noise(2, dbfs=-60), noise(4, dbfs=-65, seed=2)))

    assert result.no_speech
    assert (result.text, result.segments, result.cost_usd, result.billable_minutes) == ("", (), 0, 0)
    assert fake_openai.requests == []


def test_line_noise_sent_by_mistake_comes_back_as_invented_text(make_client):
    """Why the threshold matters: set below the line noise, the noise is sent and Whisper makes text up."""
    result = transcribe(make_client(), wav(noise(3, dbfs=-60)), silence_threshold_dbfs=-70)

    assert result.text in HALLUCINATIONS


def test_a_recording_over_the_duration_limit_is_refused_before_anything_is_sent(make_client, fake_openai):
    with pytest.raises(DurationLimitExceeded) as caught:
        transcribe(make_client(), wav(tone(440, 3)), max_recording_seconds=2)

    assert (caught.value.error_code, caught.value.retryable) == ("duration_limit_exceeded", False)
    assert str(caught.value).endswith("; file exceeds the allowed limits")
    assert fake_openai.requests == []


def test_an_undecodable_recording_fails_before_anything_is_sent(make_client, fake_openai):
    with pytest.raises(AudioConversionFailed):
        transcribe(make_client(), b"ID3" + b"\x00" * 4000)

    assert fake_openai.requests == []


def test_the_cost_is_the_started_minutes_of_the_audio_sent_at_the_rate(make_client):
    result = transcribe(make_client(), wav(tone(440, 3)), rate_per_minute_usd=Decimal("0.006"))

    assert result.billable_minutes == 1
    assert result.cost_usd == Decimal("0.006")


def test_every_chunk_carries_the_language_hint(make_client, fake_openai):
    transcribe(make_client(), wav(tone(440, 2)), max_chunk_seconds=1, language="en")

    assert [request.language for request in fake_openai.transcriptions()] == ["en", "en"]


def test_the_hint_is_the_language_when_the_model_reports_none(make_client):
    result = transcribe(make_client(model="gpt-4o-transcribe"), wav(tone(440, 2)), language="ru")

    assert result.language == "ru"


def test_the_language_of_most_of_the_audio_wins_over_the_hint(make_client, fake_openai):
    fake_openai.language = "english"

    assert transcribe(make_client(), wav(tone(440, 2))).language == "en"


def test_a_model_without_segment_times_places_each_chunk_text_at_the_chunk_start(make_client):
    result = transcribe(make_client(model="gpt-4o-transcribe"), a_stereo_call())

    assert result.text == "Оператор: тон 440 тон 880\nКлиент: тон 660"


@pytest.mark.parametrize(
    ("candidates", "hint"),
    [
        (("en", "ru", "de"), "en"),
        ((None, "", "ru"), "ru"),
        ((None, "russian", None), "ru"),
        ((None, None, ""), None),
    ],
)
def test_the_language_hint_is_the_override_then_the_jobs_then_the_default(candidates, hint):
    assert language_hint(*candidates) == hint
