"""Transcribers built from the configuration share the process's connections, each with its own audit context."""

from __future__ import annotations

import dataclasses

import pytest
from django.conf import settings

from integrations.models import IntegrationLog
from integrations.stt.errors import ProviderHTTPError, ProviderTimeout
from integrations.stt.factory import client_from_config
from tests.fakes.audio import tone, wav
from tests.fakes.http_proxy import ForwardingProxy

pytestmark = pytest.mark.django_db

AUDIO = wav(tone(440, 1))


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


def transcribe_once(config, **overrides) -> None:
    with client_from_config(config, **overrides) as transcriber:
        transcriber.transcribe(AUDIO, filename="call.wav")


def test_jobs_one_after_another_reuse_one_connection(stt_config, fake_openai):
    transcribe_once(stt_config, call_id="first")
    transcribe_once(stt_config, call_id="second")

    ports = {request.client_port for request in fake_openai.transcriptions()}
    assert len(fake_openai.transcriptions()) == 2 and len(ports) == 1


def test_each_transcriber_keeps_its_own_audit_context(stt_config, fake_openai):
    transcribe_once(stt_config, call_id="first", correlation_id="run-1")
    transcribe_once(stt_config, call_id="second", correlation_id="run-2")

    assert list(IntegrationLog.objects.order_by("id").values_list("resource_ref", "correlation_id")) == [
        ("first", "run-1"),
        ("second", "run-2"),
    ]


def test_the_proxy_applies_after_a_client_without_it_used_the_pool(stt_config, fake_openai):
    transcribe_once(stt_config)
    with ForwardingProxy() as proxy:
        transcribe_once(dataclasses.replace(stt_config, chatgpt_proxy_url=proxy.url))

    assert proxy.requests == [f"POST {fake_openai.base_url}/audio/transcriptions"]


def test_the_request_timeout_applies_to_a_shared_connection(stt_config, fake_openai):
    transcribe_once(dataclasses.replace(stt_config, stt_request_timeout_s=0.5))
    fake_openai.fail_next("timeout")

    with pytest.raises(ProviderTimeout):
        transcribe_once(dataclasses.replace(stt_config, stt_request_timeout_s=0.5))


def test_the_sdk_never_retries_on_a_shared_connection(stt_config, fake_openai):
    transcribe_once(stt_config)
    fake_openai.fail_next(503)

    with pytest.raises(ProviderHTTPError):
        transcribe_once(stt_config)

    assert len(fake_openai.transcriptions()) == 2
