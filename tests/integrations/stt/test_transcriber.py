"""The transcriber client_from_config builds: the SDK client behind the shared outbound policy, against the fake OpenAI."""

from __future__ import annotations

import dataclasses
import io
import logging

import pytest
from django.conf import settings
from prometheus_client import REGISTRY

from integrations.bitrix24 import Bitrix24Unavailable
from integrations.models import CircuitState, IntegrationLog
from integrations.stt.client import TranscriptionClient
from integrations.stt.errors import ProviderHTTPError, ProviderUnavailable, TranscriptionError
from integrations.stt.factory import client_from_config, recording_settings_from_config
from integrations.stt.recording import transcribe_recording
from tests.fakes.audio import encoded, tone, wav

pytestmark = pytest.mark.django_db

RECORDING = encoded(tone(440, 1), container="mp3")


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


@pytest.fixture
def make_transcriber(stt_config):
    """``make_transcriber(config=…, **overrides)``: client_from_config's result, closed after the test."""
    built = []

    def build(config=None, **overrides):
        built.append(client_from_config(config or stt_config, **overrides))
        return built[-1]

    yield build
    for transcriber in built:
        transcriber.close()


def failures(reason: str) -> float:
    labels = {"system": "openai", "reason": reason, "retry_stage": "transcribe"}
    return REGISTRY.get_sample_value("integration_failures_total", labels) or 0.0


def fail(transcriber, times: int) -> None:
    for _ in range(times):
        with pytest.raises(TranscriptionError):
            transcriber.transcribe(RECORDING, filename="call.mp3")


def circuit_state(transcriber) -> str | None:
    return CircuitState.objects.filter(value=transcriber.policy.breaker.key).values_list("state", flat=True).first()


def test_it_has_the_model_and_reads_the_clients_settings_through(make_transcriber):
    transcriber: TranscriptionClient = make_transcriber()

    assert transcriber.model == "whisper-1"
    assert (transcriber.response_format, transcriber.hint_413) == (
        "verbose_json",
        settings.APP_CONFIG.stt_error_hint_413,
    )


def test_each_request_writes_one_integration_log_row(make_transcriber, fake_openai):
    transcriber = make_transcriber(correlation_id="job-42", call_id="call-7")

    transcriber.transcribe(RECORDING, filename="chunk-000.mp3", language="ru")

    [row] = IntegrationLog.objects.all()
    assert (row.direction, row.external_system, row.status, row.status_code) == ("outbound", "openai", "success", 200)
    assert row.endpoint == f"{fake_openai.base_url}/audio/transcriptions"
    assert (row.correlation_id, row.resource_ref, row.retry_count, row.error_code) == ("job-42", "call-7", 0, None)
    assert len(fake_openai.transcriptions()) == 1


def test_a_failed_request_is_one_error_row_with_its_code(make_transcriber, fake_openai):
    fake_openai.fail_next(503)

    with pytest.raises(ProviderHTTPError):
        make_transcriber().transcribe(RECORDING, filename="call.mp3")

    [row] = IntegrationLog.objects.all()
    assert (row.status, row.status_code, row.error_code, row.retry_count) == ("error", 503, "http_503", 0)


def test_a_key_in_the_base_url_is_masked_in_the_audit_row(make_transcriber, stt_config, fake_openai):
    # Basic auth from the URL's password replaces the bearer key, so the fake refuses with 401.
    with_key = fake_openai.base_url.replace("http://", f"http://user:{fake_openai.api_key}@")
    transcriber = make_transcriber(dataclasses.replace(stt_config, openai_base_url=with_key))

    with pytest.raises(ProviderHTTPError):
        transcriber.transcribe(RECORDING, filename="call.mp3")

    [row] = IntegrationLog.objects.all()
    assert fake_openai.api_key not in row.endpoint
    assert row.endpoint == f"http://user:***@127.0.0.1:{fake_openai.port}/v1/audio/transcriptions"
    assert fake_openai.api_key not in transcriber.policy.breaker.key


def test_it_makes_one_attempt_and_leaves_retries_to_the_job(make_transcriber, fake_openai):
    fake_openai.fail_next(503, times=3)

    with pytest.raises(ProviderHTTPError) as caught:
        make_transcriber().transcribe(RECORDING, filename="call.mp3")

    assert caught.value.retryable
    assert len(fake_openai.transcriptions()) == 1


def test_failures_increment_integration_failures_total(make_transcriber, fake_openai):
    before_503, before_timeout = failures("http_503"), failures("network_error")
    fake_openai.fail_next(503)
    fake_openai.fail_next("reset")
    transcriber = make_transcriber()

    fail(transcriber, 2)

    assert failures("http_503") == before_503 + 1
    assert failures("network_error") == before_timeout + 1


def test_the_circuit_is_the_providers_host_and_shared_by_every_transcriber(make_transcriber, fake_openai):
    first, second = make_transcriber(), make_transcriber()

    assert first.policy.breaker.key == second.policy.breaker.key == f"openai:127.0.0.1:{fake_openai.port}"
    assert first.policy.breaker.system == "openai"


def test_retryable_failures_open_the_circuit(make_transcriber, fake_openai):
    transcriber = make_transcriber()
    fake_openai.fail_next(503, times=10)

    fail(transcriber, 10)

    assert circuit_state(transcriber) == "open"


def test_an_open_circuit_refuses_without_a_request_reaching_the_fake(make_transcriber, fake_openai):
    first, second = make_transcriber(), make_transcriber()
    fake_openai.fail_next(500, times=10)
    fail(first, 10)
    sent, rows, refused_before = len(fake_openai.requests), IntegrationLog.objects.count(), failures("circuit_open")

    with pytest.raises(ProviderUnavailable) as caught:
        second.transcribe(RECORDING, filename="call.mp3")

    assert len(fake_openai.requests) == sent
    assert IntegrationLog.objects.count() == rows
    assert failures("circuit_open") == refused_before + 1
    assert (caught.value.error_code, caught.value.retryable) == (Bitrix24Unavailable.code, True)
    assert fake_openai.api_key not in str(caught.value)


@pytest.mark.parametrize("status", [400, 401, 413, 422])
def test_answered_client_errors_do_not_open_the_circuit(make_transcriber, fake_openai, status):
    transcriber = make_transcriber()
    fake_openai.fail_next(status, times=10)

    fail(transcriber, 10)

    assert circuit_state(transcriber) == "closed"
    transcriber.transcribe(RECORDING, filename="call.mp3")
    assert len(fake_openai.transcriptions()) == 11


def test_transcribe_recording_goes_through_the_policy_for_every_chunk(make_transcriber, stt_config, fake_openai):
    recording = wav(tone(440, 2))
    chunked = dataclasses.replace(recording_settings_from_config(stt_config), max_chunk_seconds=1)

    transcribe_recording(io.BytesIO(recording), client=make_transcriber(call_id="call-3"), settings=chunked)

    assert len(fake_openai.transcriptions()) == 2
    assert list(IntegrationLog.objects.values_list("resource_ref", "status")) == [("call-3", "success")] * 2


def test_requests_are_logged_as_stt_transcribe(make_transcriber, caplog):
    caplog.set_level(logging.INFO, logger="integrations.stt")

    make_transcriber(call_id="call-7").transcribe(RECORDING, filename="chunk-001.mp3")

    lines = [r for r in caplog.records if getattr(r, "event", None) == "stt.transcribe"]
    assert [r.stage for r in lines] == ["request", "success"]
    assert {(r.call_id, r.file_name) for r in lines} == {("call-7", "chunk-001.mp3")}


def test_the_sdks_per_request_info_line_is_not_logged():
    assert not logging.getLogger("httpx2").isEnabledFor(logging.INFO)
    assert logging.getLogger("httpx2").isEnabledFor(logging.WARNING)
