"""The transcription client: the openai SDK talking to the fake OpenAI over HTTP (STT-03, STT-05)."""

from __future__ import annotations

import ssl

import pytest

from integrations.openai_sdk import shared_ssl_context
from integrations.stt.errors import ProviderTimeout, ProviderUnreachable, TranscriptionError
from tests.fakes.audio import encoded, silence, tone
from tests.fakes.http_proxy import ForwardingProxy
from tests.processes import free_port

TWO_TONES = encoded(tone(440, 1) + silence(0.5) + tone(880, 1), container="mp3")


def test_verbose_json_gives_the_text_duration_language_and_segment_times(make_client, fake_openai):
    answer = make_client().transcribe(TWO_TONES, filename="call.mp3")

    assert answer.text == "тон 440 тон 880"
    assert answer.language == "ru"
    assert answer.duration_seconds == pytest.approx(2.5, abs=0.05)
    assert [(round(s.start, 1), round(s.end, 1), s.text) for s in answer.segments] == [
        (0.0, 1.0, "тон 440"),
        (1.5, 2.5, "тон 880"),
    ]
    [request] = fake_openai.transcriptions()
    assert (request.model, request.response_format, request.timestamp_granularities) == (
        "whisper-1",
        "verbose_json",
        ("segment",),
    )
    assert (request.file_name, request.file_format, request.file_size) == ("call.mp3", "mp3", len(TWO_TONES))


def test_the_language_hint_is_sent_and_the_language_name_that_comes_back_becomes_iso_639_1(make_client, fake_openai):
    answer = make_client().transcribe(TWO_TONES, filename="call.mp3", language="en")

    assert fake_openai.transcriptions()[0].language == "en"
    assert answer.language == "en"


def test_without_a_hint_no_language_is_sent(make_client, fake_openai):
    make_client().transcribe(TWO_TONES, filename="call.mp3")

    assert fake_openai.transcriptions()[0].language is None


def test_gpt_transcription_models_are_asked_for_json_and_report_no_language(make_client, fake_openai):
    answer = make_client(model="gpt-4o-transcribe").transcribe(TWO_TONES, filename="call.mp3")

    assert [r.response_format for r in fake_openai.transcriptions()] == ["json"]
    assert (answer.text, answer.language, answer.segments) == ("тон 440 тон 880", None, ())
    assert answer.response_format == "json"


def test_a_model_that_refuses_verbose_json_is_asked_for_json_from_then_on(make_client, fake_openai):
    fake_openai.json_only_models = ("whisper-large-v3",)
    client = make_client(model="whisper-large-v3")

    first = client.transcribe(TWO_TONES, filename="a.mp3")
    client.transcribe(TWO_TONES, filename="b.mp3")

    assert first.text == "тон 440 тон 880"
    assert [(r.status, r.response_format) for r in fake_openai.transcriptions()] == [
        (400, "verbose_json"),
        (200, "json"),
        (200, "json"),
    ]


def test_the_provider_request_id_comes_back_for_the_audit(make_client):
    assert make_client().transcribe(TWO_TONES, filename="call.mp3").request_id == "req_fake_000001"


@pytest.mark.parametrize("status", [401, 429, 500, 503])
def test_the_sdk_never_retries_on_its_own(make_client, fake_openai, status):
    fake_openai.fail_next(status)

    with pytest.raises(TranscriptionError):
        make_client().transcribe(TWO_TONES, filename="call.mp3")

    assert len(fake_openai.transcriptions()) == 1


def test_requests_go_through_the_configured_proxy(make_client, fake_openai):
    with ForwardingProxy() as proxy:
        answer = make_client(proxy_url=proxy.url).transcribe(TWO_TONES, filename="call.mp3")

    assert answer.text == "тон 440 тон 880"
    assert proxy.requests == [f"POST {fake_openai.base_url}/audio/transcriptions"]
    assert len(fake_openai.transcriptions()) == 1


def test_every_client_verifies_servers_with_one_tls_context_built_once(make_client):
    direct = make_client()
    proxied = make_client(proxy_url="http://127.0.0.1:9")

    pools = [direct._sdk._client._transport._pool, *(t._pool for t in proxied._sdk._client._mounts.values() if t)]
    assert all(pool._ssl_context is shared_ssl_context() for pool in pools)
    assert shared_ssl_context().verify_mode == ssl.CERT_REQUIRED and shared_ssl_context().check_hostname


def test_without_a_proxy_requests_go_straight_to_the_server(make_client, fake_openai):
    with ForwardingProxy() as proxy:
        make_client().transcribe(TWO_TONES, filename="call.mp3")

    assert proxy.requests == []
    assert len(fake_openai.transcriptions()) == 1


def test_a_proxy_that_is_down_is_a_retryable_network_error_naming_the_proxy(make_client, fake_openai):
    dead_proxy = f"http://127.0.0.1:{free_port()}"

    with pytest.raises(ProviderUnreachable) as caught:
        make_client(proxy_url=dead_proxy).transcribe(TWO_TONES, filename="call.mp3")

    assert (caught.value.error_code, caught.value.retryable) == ("network_error", True)
    assert dead_proxy in str(caught.value)
    assert fake_openai.transcriptions() == []


def test_an_answer_slower_than_the_request_timeout_is_a_retryable_transcription_timeout(make_client, fake_openai):
    fake_openai.fail_next("timeout")

    with pytest.raises(ProviderTimeout) as caught:
        make_client(timeout_s=0.5).transcribe(TWO_TONES, filename="call.mp3")

    assert (caught.value.error_code, caught.value.retryable) == ("transcription_timeout", True)


def test_a_closed_connection_without_an_answer_is_a_retryable_network_error(make_client, fake_openai):
    fake_openai.fail_next("reset")

    with pytest.raises(ProviderUnreachable) as caught:
        make_client().transcribe(TWO_TONES, filename="call.mp3")

    assert caught.value.retryable


def test_the_proxy_password_never_reaches_the_error_message(make_client, fake_openai):
    port = free_port()

    with pytest.raises(ProviderUnreachable) as caught:
        make_client(proxy_url=f"http://relay:pr0xy-s3cret@127.0.0.1:{port}").transcribe(TWO_TONES, filename="a.mp3")

    assert "pr0xy-s3cret" not in str(caught.value)
    assert f"http://relay:***@127.0.0.1:{port}" in str(caught.value)
