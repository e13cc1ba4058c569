"""Per-call summaries (STT-11, STT-12): the extractive rules, and the LLM mode against the fake OpenAI over HTTP."""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.files.storage import storages

from calls import transcription
from calls.models import CallExport, CallExportStatus, CallRecord, CallSummary, Transcript
from calls.summaries import engine_label, extractive_bullets, llm_bullets, summary_for
from integrations.llm import prompt_for
from integrations.models import IntegrationLog
from tests.fakes.audio import tone, wav
from tests.fakes.http_proxy import ForwardingProxy

CALL = "Телефон не включается после падения. Клиент привезёт его завтра утром. Ремонт займёт три дня."
SEVEN_SENTENCES = "Раз. Два. Три. Четыре. Пять. Шесть. Семь."


# Any: the records carry the extra fields the code logs, which LogRecord does not declare.
def summary_logs(caplog) -> list[Any]:
    return [record for record in caplog.records if getattr(record, "event", None) == "stt.summary"]


# The extractive algorithm (STT-11) ------------------------------------------


def test_the_first_five_sentences_become_the_bullets():
    assert extractive_bullets(SEVEN_SENTENCES) == ["Раз.", "Два.", "Три.", "Четыре.", "Пять."]


def test_three_sentences_ending_in_any_mark_are_three_bullets():
    assert extractive_bullets("Алло! Вы меня слышите? Да, слышу.") == ["Алло!", "Вы меня слышите?", "Да, слышу."]


def test_lines_split_sentences_and_whitespace_inside_them_is_collapsed():
    text = "Оператор:   добрый   день\nКлиент: не работает\tэкран. Оператор: привозите."

    assert extractive_bullets(text) == ["Оператор: добрый день", "Клиент: не работает экран.", "Оператор: привозите."]


def test_with_fewer_than_three_sentences_the_words_are_three_equal_chunks():
    assert extractive_bullets("один два три четыре пять шесть") == ["один два", "три четыре", "пять шесть"]


@pytest.mark.parametrize(
    ("text", "bullets"),
    [
        ("один два три четыре", ["один два", "три", "четыре"]),
        ("а б в г д е ж", ["а б в", "г д", "е ж"]),
        ("один два", ["один", "два"]),
        ("один", ["один"]),
    ],
)
def test_words_that_do_not_divide_by_three_still_make_three_chunks_when_there_are_three(text, bullets):
    assert extractive_bullets(text) == bullets


def test_duplicate_chunks_are_dropped_in_order():
    assert extractive_bullets("да нет да") == ["да", "нет"]
    assert extractive_bullets("алло алло алло") == ["алло"]


def test_a_bullet_longer_than_256_characters_is_cut_to_255_and_an_ellipsis():
    long, exact = "д" * 299 + ".", "т" * 255 + "."

    bullets = extractive_bullets(f"{long} {exact} Конец.")

    assert bullets[0] == "д" * 255 + "…" and len(bullets[0]) == 256
    assert bullets[1] == exact
    assert bullets[2] == "Конец."


def test_an_empty_transcript_gives_no_bullets():
    assert extractive_bullets(" \n\t ") == []


def test_a_models_lines_keep_the_same_rules():
    lines = ["Первое.", "Первое.", "ж" * 300, "Третье.", "Четвёртое.", "Пятое.", "Шестое."]

    assert llm_bullets(lines) == ["Первое.", "ж" * 255 + "…", "Третье.", "Четвёртое.", "Пятое."]


def test_the_engine_names_the_model_when_it_fits():
    assert engine_label("gpt-4o-mini-2024-07-18") == "llm:gpt-4o-mini-2024-07-18"
    assert engine_label("ft:gpt-4o-mini-2024-07-18:acme::AbCdEf12") == "llm"


# Summaries of stored records -------------------------------------------------


@pytest.fixture
def summaries_on(settings, storage_dir):
    settings.APP_CONFIG = dataclasses.replace(django_settings.APP_CONFIG, call_summary_enabled=True)
    return settings.APP_CONFIG


@pytest.fixture
def llm_on(summaries_on, fake_openai, settings):
    """``CALL_SUMMARY_ENGINE=llm`` against the fake OpenAI."""
    settings.APP_CONFIG = dataclasses.replace(
        summaries_on,
        openai_api_key=fake_openai.api_key,
        openai_base_url=fake_openai.base_url,
        chatgpt_proxy_url="",
        call_summary_engine="llm",
        call_summary_model="gpt-4o-mini",
        request_timeout_s=5,
    )
    return settings.APP_CONFIG


@pytest.fixture
def completed(db):
    """``completed(text, options=…)``: a completed record whose Transcript row holds ``text``; one run per day of 2026."""
    made = 0

    def make(text: str, *, options: dict | None = None) -> CallRecord:
        nonlocal made
        made += 1
        # At most one active run per period: each record gets a day of its own.
        run = CallExport.objects.create(
            period_from=datetime(2026, 1, made, tzinfo=UTC),
            period_to=datetime(2026, 1, made, 23, tzinfo=UTC),
            status=CallExportStatus.IN_PROGRESS,
            options=options or {},
        )
        record = CallRecord.objects.create(
            run=run,
            call_id=f"s{made}",
            record_id=str(made),
            direction="inbound",
            from_number="+79000000000",
            to_number="+74950000000",
            duration_sec=60,
            status="completed",
            language="ru",
        )
        Transcript.objects.create(call_record=record, text_full=text)
        return record

    return make


def test_an_extractive_summary_is_a_markdown_file_a_row_and_the_records_path(summaries_on, completed):
    record = completed(SEVEN_SENTENCES)

    summary = summary_for(record.pk)
    assert summary is not None

    record.refresh_from_db()
    assert (summary.engine, summary.bullets) == ("extractive", ["Раз.", "Два.", "Три.", "Четыре.", "Пять."])
    assert record.summary_path == summary.storage_path
    assert record.summary_path.startswith("summaries/") and record.summary_path.endswith(".md")
    assert (
        storages["default"].open(record.summary_path).read().decode() == "- Раз.\n- Два.\n- Три.\n- Четыре.\n- Пять.\n"
    )


def test_a_run_that_asks_for_no_summaries_gets_none(summaries_on, completed):
    record = completed(CALL, options={"generate_summary": False})

    assert summary_for(record.pk) is None
    assert not CallSummary.objects.exists()


def test_an_empty_transcript_gives_no_summary_and_sends_nothing(llm_on, completed, fake_openai):
    record = completed("  \n ")

    assert summary_for(record.pk) is None

    record.refresh_from_db()
    assert record.summary_path is None and not CallSummary.objects.exists()
    assert fake_openai.chats() == []


# The LLM mode ------------------------------------------------------------------


def test_the_llm_engine_writes_the_models_bullets(llm_on, completed, fake_openai):
    record = completed(CALL)

    summary = summary_for(record.pk)
    assert summary is not None

    assert summary.bullets == [
        "Телефон не включается после падения.",
        "Клиент привезёт его завтра утром.",
        "Ремонт займёт три дня.",
    ]
    assert summary.engine == "llm:gpt-4o-mini"
    markdown = storages["default"].open(summary.storage_path).read().decode()
    assert markdown == "".join(f"- {bullet}\n" for bullet in summary.bullets)
    [request] = fake_openai.chats()
    assert (request.model, request.text, request.system) == ("gpt-4o-mini", CALL, prompt_for("ru"))


def test_the_models_bullets_are_deduplicated_and_cut_like_extractive_ones(llm_on, completed):
    record = completed("Да. Да. " + "ш" * 300 + ".")

    summary = summary_for(record.pk)
    assert summary is not None and summary.bullets == ["Да.", "ш" * 255 + "…"]


def test_the_llm_request_is_audited_with_the_call_and_the_run_and_without_the_key(llm_on, completed, fake_openai):
    record = completed(CALL)

    summary_for(record.pk)

    [row] = IntegrationLog.objects.all()
    assert (row.external_system, row.status, row.status_code) == ("openai", "success", 200)
    assert row.endpoint == f"{fake_openai.base_url}/chat/completions"
    assert (row.resource_ref, row.correlation_id) == (record.call_id, str(record.run_id))
    stored_values = " ".join(str(value) for value in IntegrationLog.objects.values().get().values())
    assert fake_openai.api_key not in stored_values


def test_a_key_in_the_base_url_is_masked_in_the_audit_row_and_the_log(llm_on, completed, fake_openai, settings, caplog):
    with_key = fake_openai.base_url.replace("http://", f"http://user:{fake_openai.api_key}@")
    settings.APP_CONFIG = dataclasses.replace(llm_on, openai_base_url=with_key)
    record = completed(CALL)

    summary = summary_for(record.pk)
    assert summary is not None

    # The URL's password replaces the bearer key, so the fake refuses: the summary falls back.
    assert summary.engine == "extractive"
    [row] = IntegrationLog.objects.all()
    assert row.endpoint == f"http://user:***@127.0.0.1:{fake_openai.port}/v1/chat/completions"
    assert all(fake_openai.api_key not in line.getMessage() + str(line.__dict__) for line in caplog.records)


def test_the_llm_request_goes_through_chatgpt_proxy_url(llm_on, completed, fake_openai, settings):
    record = completed(CALL)
    with ForwardingProxy() as proxy:
        settings.APP_CONFIG = dataclasses.replace(llm_on, chatgpt_proxy_url=proxy.url)

        summary = summary_for(record.pk)
        assert summary is not None

    assert summary.engine == "llm:gpt-4o-mini"
    assert proxy.requests == [f"POST {fake_openai.base_url}/chat/completions"]


@pytest.mark.parametrize(("fault", "cause"), [(500, "http_500"), ("timeout", "timeout"), ("html", "unexpected_error")])
def test_a_failed_llm_request_logs_summary_failed_and_writes_the_extractive_summary(
    llm_on, completed, fake_openai, settings, caplog, fault, cause
):
    settings.APP_CONFIG = dataclasses.replace(llm_on, request_timeout_s=0.3)
    fake_openai.slow_seconds = 1.0
    fake_openai.fail_next(fault)
    record = completed(CALL)

    summary = summary_for(record.pk)
    assert summary is not None

    record.refresh_from_db()
    assert (summary.engine, summary.bullets) == ("extractive", extractive_bullets(CALL))
    assert record.status == "completed" and record.summary_path == summary.storage_path
    [line] = summary_logs(caplog)
    assert (line.levelno, line.stage, line.error_code, line.cause) == (
        logging.WARNING,
        "fallback",
        "summary_failed",
        cause,
    )
    assert (line.call_id, line.correlation_id) == (record.call_id, str(record.run_id))
    assert IntegrationLog.objects.get().error_code == cause


def test_without_a_key_the_llm_engine_writes_extractive_summaries_and_says_so_each_time(
    llm_on, completed, fake_openai, settings, caplog
):
    settings.APP_CONFIG = dataclasses.replace(llm_on, openai_api_key="")
    first, second = completed(CALL), completed(SEVEN_SENTENCES)

    summaries = [summary_for(first.pk), summary_for(second.pk)]
    engines = [summary.engine if summary else None for summary in summaries]

    assert engines == ["extractive", "extractive"]
    assert fake_openai.requests == [] and not IntegrationLog.objects.exists()
    assert [(line.levelno, line.error_code, line.call_id) for line in summary_logs(caplog)] == [
        (logging.WARNING, "llm_disabled", first.call_id),
        (logging.WARNING, "llm_disabled", second.call_id),
    ]


# Through the transcription job (STT-12) -------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_transcribed_call_gets_the_llm_summary(stored, fake_openai, settings):
    settings.APP_CONFIG = dataclasses.replace(settings.APP_CONFIG, call_summary_engine="llm")
    job = stored(wav(tone(500, 1.0)))

    assert transcription.job_run(str(job.pk)).status == "succeeded"

    record = CallRecord.objects.get(pk=job.call_record_id)
    assert (record.status, record.summary.engine, record.summary.bullets) == (
        "completed",
        "llm:gpt-4o-mini",
        ["тон 500."],
    )
    assert [request.kind for request in fake_openai.requests] == ["transcription", "chat"]


@pytest.mark.django_db(transaction=True)
def test_a_failing_llm_summary_never_fails_the_transcription(stored, fake_openai, settings, caplog):
    settings.APP_CONFIG = dataclasses.replace(settings.APP_CONFIG, call_summary_engine="llm")
    job = stored(wav(tone(500, 1.0)))
    fake_openai.fail_next(503, only="chat")

    assert transcription.job_run(str(job.pk)).status == "succeeded"

    record = CallRecord.objects.get(pk=job.call_record_id)
    assert (record.status, record.error_code) == ("completed", None)
    assert (record.summary.engine, record.summary_path) == ("extractive", record.summary.storage_path)
    assert [(line.error_code, line.cause) for line in summary_logs(caplog)] == [("summary_failed", "http_503")]
