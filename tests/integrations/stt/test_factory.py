"""Building the STT client and the recording settings from the configuration (STT-01)."""

from __future__ import annotations

import dataclasses
import io
from decimal import Decimal

import pytest
from django.conf import settings

from integrations.stt.errors import TranscriptionDisabled
from integrations.stt.factory import client_from_config, recording_settings_from_config
from integrations.stt.recording import transcribe_recording
from mastermobile.config import load_config
from tests.fakes.audio import tone, wav
from tests.fakes.http_proxy import ForwardingProxy


@pytest.fixture
def stt_config(fake_openai):
    return dataclasses.replace(
        settings.APP_CONFIG,
        openai_api_key=fake_openai.api_key,
        openai_base_url=fake_openai.base_url,
        stt_max_file_minutes=60,
        stt_request_timeout_s=5,
        chatgpt_proxy_url="",
    )


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"openai_api_key": ""}, "OPENAI_API_KEY is empty"),
        ({"stt_max_file_minutes": 0}, "STT_MAX_FILE_MINUTES is 0"),
    ],
)
def test_it_refuses_to_build_a_client_while_stt_is_disabled_so_nothing_is_sent(
    stt_config, fake_openai, changes, reason
):
    disabled = dataclasses.replace(stt_config, **changes)

    with pytest.raises(TranscriptionDisabled) as caught:
        client_from_config(disabled)

    assert str(caught.value) == f"speech-to-text is disabled: {reason}"
    assert (caught.value.error_code, caught.value.retryable) == ("stt_disabled", False)
    assert fake_openai.requests == []


def test_the_default_configuration_has_stt_disabled():
    with pytest.raises(TranscriptionDisabled):
        client_from_config(load_config({}))


@pytest.mark.django_db
def test_a_client_built_from_the_configuration_transcribes_a_recording_through_the_fake(stt_config, fake_openai):
    with client_from_config(stt_config) as client:
        result = transcribe_recording(
            io.BytesIO(wav(tone(440, 2))), client=client, settings=recording_settings_from_config(stt_config)
        )

    assert result.text == "тон 440"
    assert result.model == "whisper-1"
    assert fake_openai.transcriptions()[0].model == "whisper-1"


@pytest.mark.django_db
def test_the_configured_model_hint_texts_and_proxy_reach_the_client(stt_config, fake_openai):
    with ForwardingProxy() as proxy:
        config = dataclasses.replace(
            stt_config, stt_openai_model="gpt-4o-mini-transcribe", chatgpt_proxy_url=proxy.url, stt_error_hint_413="big"
        )
        with client_from_config(config) as client:
            client.transcribe(wav(tone(440, 1)), filename="call.wav")

    assert (client.model, client.response_format, client.hint_413) == ("gpt-4o-mini-transcribe", "json", "big")
    assert proxy.requests == [f"POST {fake_openai.base_url}/audio/transcriptions"]


def test_recording_settings_follow_the_configuration():
    config = load_config(
        {
            "STT_MAX_FILE_MINUTES": "60",
            "STT_CHUNK_MINUTES": "5",
            "STT_MAX_FILE_SIZE_MB": "10",
            "STT_SILENCE_THRESHOLD_DBFS": "-50",
            "STT_OPERATOR_CHANNEL": "1",
            "WHISPER_RATE_PER_MIN_USD": "0.003",
            "STT_ERROR_HINT_413": "слишком длинная запись",
        }
    )

    recording = recording_settings_from_config(config)

    assert (recording.max_recording_seconds, recording.max_chunk_seconds) == (3600, 300)
    assert recording.max_chunk_bytes == 10 * 1024 * 1024
    assert (recording.silence_threshold_dbfs, recording.operator_channel) == (-50.0, 1)
    assert recording.rate_per_minute_usd == Decimal("0.003")
    assert recording.duration_hint == "слишком длинная запись"


def test_uploads_never_exceed_openais_25_mb_whatever_the_setting():
    recording = recording_settings_from_config(load_config({"STT_MAX_FILE_SIZE_MB": "100"}))

    assert recording.max_chunk_bytes == 25 * 1024 * 1024
