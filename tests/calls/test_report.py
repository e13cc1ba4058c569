"""The report's sections and numbers for a known run (EXP-08)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from calls.reports import render_report, report_facts
from integrations.models import IntegrationLog
from tests.calls.report_fixtures import finished_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def config(settings):
    settings.APP_CONFIG = dataclasses.replace(
        settings.APP_CONFIG, usd_rub_rate=Decimal("90"), call_export_budget_usd=Decimal("0.09")
    )
    return settings.APP_CONFIG


def test_totals_count_records_coverage_minutes_and_money(config):
    facts = report_facts(finished_run())

    assert (facts.listed_total, facts.with_recording) == (12, 12)
    assert (facts.completed, facts.error, facts.missing_audio, facts.skipped) == (10, 1, 1, 1)
    assert facts.skipped_by_reason == {"no_recording": 1}
    assert facts.available_audio == 11
    assert facts.coverage_percent == Decimal("90.91")
    assert (facts.duration_minutes, facts.duration_hours) == (Decimal("21.67"), Decimal("0.36"))
    assert facts.billable_minutes == 20
    assert (facts.cost_usd, facts.cost_rub) == (Decimal("0.12"), Decimal("10.80"))
    assert facts.cost_per_minute_usd == Decimal("0.0060")


def test_the_duration_check_flags_a_difference_above_half_a_percent(config):
    flagged = report_facts(finished_run())
    close = report_facts(finished_run("b-", checkpoint={"listed": True, "listed_duration_sec": 1295}))

    assert (flagged.registry_seconds, flagged.listed_seconds) == (1300, 1200)
    assert (flagged.duration_difference_percent, flagged.duration_flagged) == (Decimal("8.33"), True)
    assert (close.duration_difference_percent, close.duration_flagged) == (Decimal("0.39"), False)


def test_a_run_without_the_listing_sum_has_no_duration_check(config):
    facts = report_facts(finished_run(checkpoint={"listed": True}))

    assert (facts.duration_difference_percent, facts.duration_flagged) == (None, False)
    assert "Секунд в выгрузке Bitrix24: нет данных" in render_report(facts)


def test_the_budget_deviation_is_flagged_above_twenty_percent_and_the_forecast_scales_by_covered_days(config):
    facts = report_facts(finished_run())

    assert (facts.budget_usd, facts.budget_deviation_percent, facts.budget_flagged) == (
        Decimal("0.09"),
        Decimal("33.33"),
        True,
    )
    # 0.12 USD over one day with calls; the period has two days
    assert (facts.covered_days, facts.period_days, facts.forecast_usd) == (1, 2, Decimal("0.24"))


def test_a_deviation_of_exactly_twenty_percent_is_not_flagged(settings, config):
    settings.APP_CONFIG = dataclasses.replace(config, call_export_budget_usd=Decimal("0.10"))

    facts = report_facts(finished_run())

    assert (facts.budget_deviation_percent, facts.budget_flagged) == (Decimal("20.00"), False)


def test_an_unset_budget_is_reported_as_not_set(settings, config):
    settings.APP_CONFIG = dataclasses.replace(config, call_export_budget_usd=None)

    facts = report_facts(finished_run())

    assert (facts.budget_deviation_percent, facts.budget_flagged) == (None, False)
    assert "Бюджет (CALL_EXPORT_BUDGET_USD): не задан" in render_report(facts)


def test_execution_counts_retries_dead_letters_throttling_and_stt_latency(config):
    run = finished_run()
    for status_code in (429, 429, 200):
        IntegrationLog.objects.create(
            direction="outbound",
            external_system="b24",
            endpoint="voximplant.statistic.get",
            status="retry" if status_code == 429 else "success",
            status_code=status_code,
            correlation_id=str(run.run_id),
        )

    facts = report_facts(run)

    assert (facts.stt_retries, facts.dead_letters, facts.b24_throttled) == (2, 1, 2)
    assert facts.download_retries == 0
    assert facts.wall_seconds == 1800
    assert facts.stt_seconds_per_audio_minute == Decimal("6.00")  # 100 s of work for 1000 s of audio
    stages = {stage.name: stage.seconds for stage in facts.stages}
    assert stages["transcribe"] == 60


def test_the_report_renders_all_eight_sections_with_their_numbers(config):
    run = finished_run()

    text = render_report(report_facts(run))

    for heading in (
        "## 1. Заголовок",
        "## 2. Итоги",
        "## 3. Проверка длительности",
        "## 4. Пропуски",
        "## 5. Стоимость и бюджет",
        "## 6. Выполнение",
        "## 7. Выборка",
        "## 8. Рекомендации",
    ):
        assert heading in text
    assert f"run_id: `{run.run_id}`" in text
    assert "(Europe/Moscow)" in text
    assert "Запуск: по расписанию (cron)" in text
    assert "резюме включены, движок openai-whisper" in text
    assert "Покрытие (completed ÷ записи с доступным аудио, 11): 90.91%" in text
    assert "- Завершено (completed): 10\n- С ошибкой (error): 1\n- Нет аудио (missing_audio): 1\n" in text
    assert "- Пропущено (skipped): 1\n  - в Битрикс24 нет записи (no_recording): 1" in text
    assert "Стоимость: 0.12 USD (10.80 RUB по курсу 90)" in text
    assert "Расхождение: 8.33% — **ВНИМАНИЕ: больше 0.5%**" in text
    assert "Отклонение: 33.33% — **ВНИМАНИЕ: больше 20%**" in text
