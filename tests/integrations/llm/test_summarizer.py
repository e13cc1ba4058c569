"""The call summarizer summarizer_from_config builds: the chat client behind the shared outbound policy, against the fake OpenAI."""

from __future__ import annotations

import dataclasses
import logging

import pytest
from django.conf import settings
from prometheus_client import REGISTRY

from integrations.llm import (
    ChatDisabled,
    ChatHTTPError,
    ChatUnavailable,
    answer_lines,
    excerpt,
    prompt_for,
    summarizer_from_config,
)
from integrations.llm.summarizer import GAP
from integrations.models import CircuitState, IntegrationLog
from integrations.stt.factory import client_from_config

TRANSCRIPT = "Телефон не включается. Клиент привезёт его завтра. Ремонт займёт три дня. Оплата на месте."


@pytest.fixture
def llm_config(fake_openai):
    return dataclasses.replace(
        settings.APP_CONFIG,
        openai_api_key=fake_openai.api_key,
        openai_base_url=fake_openai.base_url,
        chatgpt_proxy_url="",
        call_summary_engine="llm",
        call_summary_model="gpt-4o-mini",
        request_timeout_s=5,
    )


@pytest.fixture
def make_summarizer(llm_config):
    """``make_summarizer(config=…, **options)``: summarizer_from_config's result, closed after the test."""
    built = []

    def build(config=None, **options):
        built.append(summarizer_from_config(config or llm_config, **options))
        return built[-1]

    yield build
    for summarizer in built:
        summarizer.close()


def failures(reason: str) -> float:
    labels = {"system": "openai", "reason": reason, "retry_stage": "summary"}
    return REGISTRY.get_sample_value("integration_failures_total", labels) or 0.0


# Without the database -----------------------------------------------------


def test_answer_lines_strip_bullet_markers_and_numbering():
    answer = "- Первый пункт\n• Второй\n*   Третий\n2) Четвёртый\n3. Пятый\n– Шестой"

    assert answer_lines(answer) == ("Первый пункт", "Второй", "Третий", "Четвёртый", "Пятый", "Шестой")


def test_answer_lines_drop_a_preamble_and_a_closing_line_around_bullets():
    answer = "Вот краткое содержание:\n\n- Клиент просит ремонт.\n-   \n- Срок три дня.\n\nЕсли нужно, уточню."

    assert answer_lines(answer) == ("Клиент просит ремонт.", "Срок три дня.")


def test_answer_lines_keep_plain_lines_and_leading_numbers_that_are_not_markers():
    answer = "Скидка  -5 % на ремонт\n10.5 тысяч рублей к оплате\n-5 % ещё раз"

    assert answer_lines(answer) == ("Скидка -5 % на ремонт", "10.5 тысяч рублей к оплате", "-5 % ещё раз")


def test_a_transcript_within_the_limit_is_sent_whole():
    assert excerpt(TRANSCRIPT, 1000) == TRANSCRIPT


def test_a_long_transcript_keeps_its_beginning_and_its_end_within_the_limit():
    words = [f"слово{n}" for n in range(2000)]
    text = " ".join(words)

    cut = excerpt(text, 1000)

    head, tail = cut.split(GAP)
    assert len(cut) <= 1000
    assert head.startswith("слово0 слово1 ") and tail.endswith(" слово1998 слово1999")
    # Cut between words: every piece is a whole word of the transcript.
    assert set(head.split() + tail.split()) <= set(words)


def test_the_prompt_names_the_calls_language_when_it_is_known():
    assert "ISO 639-1 code 'ru'" in prompt_for("ru")
    assert "ISO 639-1" not in prompt_for(None) and "the language of the call" in prompt_for(None)


def test_without_a_key_nothing_is_built(llm_config):
    with pytest.raises(ChatDisabled) as caught:
        summarizer_from_config(dataclasses.replace(llm_config, openai_api_key=""))

    assert caught.value.error_code == "llm_disabled"


# Against the fake, with the audit -------------------------------------------


@pytest.mark.django_db
def test_it_returns_the_bullets_and_the_model_and_sends_the_prompt(make_summarizer, fake_openai):
    summary = make_summarizer().summarize(TRANSCRIPT, language="ru")

    assert summary.bullets == ("Телефон не включается.", "Клиент привезёт его завтра.", "Ремонт займёт три дня.")
    assert summary.model == "gpt-4o-mini"
    [request] = fake_openai.chats()
    assert (request.model, request.text, request.system) == ("gpt-4o-mini", TRANSCRIPT, prompt_for("ru"))


@pytest.mark.django_db
def test_a_long_transcript_is_cut_before_it_is_sent(make_summarizer, llm_config, fake_openai):
    config = dataclasses.replace(llm_config, call_summary_max_input_chars=1000)

    make_summarizer(config).summarize("Начало разговора. " + "слово " * 5000 + "Итог: ремонт завтра.")

    [request] = fake_openai.chats()
    assert len(request.text) <= 1000
    assert request.text.startswith("Начало разговора.") and request.text.endswith("Итог: ремонт завтра.")


@pytest.mark.django_db
def test_each_request_writes_one_integration_log_row(make_summarizer, fake_openai):
    make_summarizer(correlation_id="run-42", call_id="call-7").summarize(TRANSCRIPT)

    [row] = IntegrationLog.objects.all()
    assert (row.direction, row.external_system, row.status, row.status_code) == ("outbound", "openai", "success", 200)
    assert row.endpoint == f"{fake_openai.base_url}/chat/completions"
    assert (row.correlation_id, row.resource_ref, row.retry_count, row.error_code) == ("run-42", "call-7", 0, None)


@pytest.mark.django_db
def test_a_key_in_the_base_url_is_masked_in_the_audit_row_and_the_circuit(make_summarizer, llm_config, fake_openai):
    # Basic auth from the URL's password replaces the bearer key, so the fake refuses with 401.
    with_key = fake_openai.base_url.replace("http://", f"http://user:{fake_openai.api_key}@")
    summarizer = make_summarizer(dataclasses.replace(llm_config, openai_base_url=with_key))

    with pytest.raises(ChatHTTPError):
        summarizer.summarize(TRANSCRIPT)

    [row] = IntegrationLog.objects.all()
    assert row.endpoint == f"http://user:***@127.0.0.1:{fake_openai.port}/v1/chat/completions"
    assert (row.status, row.error_code) == ("error", "http_401")
    assert fake_openai.api_key not in summarizer.policy.breaker.key


@pytest.mark.django_db
def test_a_failure_is_one_attempt_one_error_row_and_one_failure_counted(make_summarizer, fake_openai):
    before = failures("http_503")
    fake_openai.fail_next(503, times=3)

    with pytest.raises(ChatHTTPError):
        make_summarizer().summarize(TRANSCRIPT)

    assert len(fake_openai.chats()) == 1
    [row] = IntegrationLog.objects.all()
    assert (row.status, row.status_code, row.error_code, row.retry_count) == ("error", 503, "http_503", 0)
    assert failures("http_503") == before + 1


@pytest.mark.django_db
def test_failing_summaries_open_their_own_circuit_and_not_the_transcription_one(
    make_summarizer, llm_config, fake_openai
):
    summarizer = make_summarizer()
    fake_openai.fail_next(500, times=10)
    for _ in range(10):
        with pytest.raises(ChatHTTPError):
            summarizer.summarize(TRANSCRIPT)
    sent = len(fake_openai.requests)

    with pytest.raises(ChatUnavailable) as caught:
        make_summarizer().summarize(TRANSCRIPT)

    assert len(fake_openai.requests) == sent
    assert caught.value.error_code == "integration.unavailable"
    assert summarizer.policy.breaker.key == f"openai-chat:127.0.0.1:{fake_openai.port}"
    transcription_circuit = client_from_config(dataclasses.replace(llm_config, stt_max_file_minutes=60))
    transcription_circuit.close()
    assert not CircuitState.objects.filter(value=transcription_circuit.policy.breaker.key).exists()


@pytest.mark.django_db
def test_requests_are_logged_as_llm_summary(make_summarizer, caplog):
    caplog.set_level(logging.INFO, logger="integrations.llm")

    make_summarizer(call_id="call-7").summarize(TRANSCRIPT)

    lines = [r for r in caplog.records if getattr(r, "event", None) == "llm.summary"]
    assert [r.stage for r in lines] == ["request", "success"]
    assert {(r.call_id, r.model) for r in lines} == {("call-7", "gpt-4o-mini")}
