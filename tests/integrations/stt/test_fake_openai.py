"""The fake OpenAI's own promises: chat completions, OpenAI's error shape, fault rate, latency, running by hand."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request

import openai
import pytest
from django.conf import settings

from tests.fakes.audio import encoded, silence, speech_like, tone, wav
from tests.fakes.openai import HALLUCINATIONS, FakeOpenAI, KnownTranscript, hear, load_transcripts
from tests.processes import free_port, process_env


def sdk(fake: FakeOpenAI, api_key: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(api_key=api_key or fake.api_key, base_url=fake.base_url, max_retries=0, timeout=5)


def test_it_hears_tones_by_frequency_and_noise_as_noise():
    heard = hear(encoded(tone(440, 1) + silence(0.5) + tone(1230, 1) + silence(0.5) + speech_like(1), container="mp3"))

    assert [sound.text for sound in heard.sounds] == ["тон 440", "тон 1230", "шум"]
    assert heard.container == "mp3"


def test_it_invents_text_for_silence_as_whisper_does(fake_openai):
    with sdk(fake_openai) as client:
        answer = client.audio.transcriptions.create(
            file=("silence.mp3", encoded(silence(2), container="mp3"), "audio/mpeg"), model="whisper-1"
        )

    assert answer.text in HALLUCINATIONS


def test_a_known_signature_is_answered_with_its_text_and_language():
    transcripts = {"тон 440 тон 660": KnownTranscript("Hello world.", "en")}
    audio = encoded(silence(0.3) + tone(440, 0.8) + silence(0.4) + tone(660, 0.8), container="mp3")

    with FakeOpenAI(transcripts=transcripts) as fake, sdk(fake) as client:
        answer = client.audio.transcriptions.create(
            file=("chunk-000.mp3", audio, "audio/mpeg"), model="whisper-1", response_format="verbose_json"
        )

    assert (answer.text, answer.language) == ("Hello world.", "english")
    assert [segment.text for segment in answer.segments or []] == [" Hello world."]


def test_a_language_hint_is_what_the_answer_reports_even_for_a_known_signature():
    transcripts = {"тон 440": KnownTranscript("Hello world.", "en")}

    with FakeOpenAI(transcripts=transcripts) as fake, sdk(fake) as client:
        answer = client.audio.transcriptions.create(
            file=("chunk-000.mp3", encoded(silence(0.3) + tone(440, 1)), "audio/mpeg"),
            model="whisper-1",
            response_format="verbose_json",
            language="de",
        )

    assert (answer.text, answer.language) == ("Hello world.", "german")


def test_an_unknown_signature_is_still_heard_as_tones():
    with FakeOpenAI(transcripts={"тон 440": KnownTranscript("Hello world.", "en")}) as fake, sdk(fake) as client:
        answer = client.audio.transcriptions.create(
            file=("chunk-000.mp3", encoded(silence(0.3) + tone(880, 1)), "audio/mpeg"), model="whisper-1"
        )

    assert answer.text == "тон 880"


def test_transcripts_load_from_a_smoke_manifest_leaving_out_clips_heard_as_nothing(tmp_path):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(
        json.dumps(
            {
                "clips": [
                    {"filename": "a.wav", "text": "Hola.", "language": "es", "heard": "шум"},
                    {"filename": "quiet.wav", "text": "", "language": None, "heard": ""},
                ]
            }
        ),
        encoding="utf-8",
    )

    assert load_transcripts(manifest) == {"шум": KnownTranscript("Hola.", "es")}


def test_chat_completions_answer_with_the_first_sentences_as_bullets(fake_openai):
    with sdk(fake_openai) as client:
        completion = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[
                {"role": "system", "content": "Summarise the call."},
                {"role": "user", "content": "Клиент звонил. Заказ опаздывает! Что делать? Ждать."},
            ],
        )

    assert completion.choices[0].message.content == "- Клиент звонил.\n- Заказ опаздывает.\n- Что делать."
    assert fake_openai.requests[0].kind == "chat"


def test_a_wrong_key_gets_openais_error_shape(fake_openai):
    with sdk(fake_openai, api_key="sk-wrong-0123456789") as client, pytest.raises(openai.AuthenticationError) as caught:
        client.models.list()

    body = caught.value.body
    assert isinstance(body, dict)
    assert body["type"] == "invalid_request_error"
    assert body["code"] == "invalid_api_key"
    assert "0123456789" not in body["message"]


def test_srt_is_refused_as_a_bad_response_format(fake_openai):
    with sdk(fake_openai) as client, pytest.raises(openai.BadRequestError) as caught:
        client.audio.transcriptions.create(
            file=("a.mp3", encoded(tone(440, 1)), "audio/mpeg"), model="whisper-1", response_format="srt"
        )

    assert caught.value.param == "response_format"


def test_a_fault_rate_of_one_fails_every_request_with_a_retryable_status():
    with FakeOpenAI(fault_rate=1.0) as fake, sdk(fake) as client:
        for _ in range(5):
            with pytest.raises(openai.APIStatusError):
                client.models.list()

    assert {entry.status for entry in fake.requests} <= {429, 500, 503}


def test_latency_delays_every_answer():
    with FakeOpenAI(latency_s=0.3) as fake, sdk(fake) as client:
        started = time.monotonic()
        client.models.list()

    assert time.monotonic() - started >= 0.3


def test_the_latency_includes_the_fakes_own_work_as_a_remote_servers_would():
    # A long clip, so that decoding and "hearing" it takes the fake a noticeable time.
    audio = wav(tone(440, 120))

    def answer_seconds(fake: FakeOpenAI) -> float:
        with sdk(fake) as client:
            started = time.monotonic()
            client.audio.transcriptions.create(model="whisper-1", file=("long.wav", audio))
            return time.monotonic() - started

    with FakeOpenAI() as fake:
        working = answer_seconds(fake)
    with FakeOpenAI(latency_s=working * 3) as fake:
        held = answer_seconds(fake)

    assert held >= working * 3
    # Not latency + work: the work happened inside the latency.
    assert held < working * 3 + working * 0.5, (working, held)


@pytest.mark.slow
def test_it_runs_by_hand_and_writes_its_variables_into_an_env_file(tmp_path):
    port, env_file = free_port(), tmp_path / ".env"
    env_file.write_text("LOG_LEVEL=DEBUG\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.openai", "--port", str(port), "--env-file", str(env_file)],
        cwd=settings.BASE_DIR,
        env=process_env("PYTHONPATH"),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while "OPENAI_BASE_URL" not in env_file.read_text():
            assert process.poll() is None and time.monotonic() < deadline, "the fake did not start"
            time.sleep(0.05)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/models", headers={"Authorization": "Bearer sk-fake-openai-0123456789abcdef"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            models = json.load(response)
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=10)

    assert env_file.read_text().splitlines() == [
        "LOG_LEVEL=DEBUG",
        "OPENAI_API_KEY=sk-fake-openai-0123456789abcdef",
        f"OPENAI_BASE_URL=http://127.0.0.1:{port}/v1",
    ]
    assert f"OPENAI_BASE_URL=http://127.0.0.1:{port}/v1" in output
    assert "whisper-1" in [model["id"] for model in models["data"]]
