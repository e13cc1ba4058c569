"""The report's automatic recommendations (EXP-08 §8)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from calls.reports import render_report, report_facts
from tests.calls.report_fixtures import add_job, add_record, finished_run, make_run

pytestmark = pytest.mark.django_db


def test_a_poor_run_gets_a_note_for_each_threshold_it_crossed(settings):
    settings.APP_CONFIG = dataclasses.replace(settings.APP_CONFIG, call_export_budget_usd=Decimal("0.05"))

    notes = report_facts(finished_run()).recommendations

    assert any(note.startswith("Покрытие 90.91%") for note in notes)
    assert any(note.startswith("Стоимость 0.12 USD превышает бюджет 0.05 USD") for note in notes)
    assert any(note.startswith("Без аудио 8.33%") for note in notes)
    assert any("недоставленных 1" in note for note in notes)
    assert any("расходится с выгрузкой Bitrix24 на 8.33%" in note for note in notes)


def test_a_clean_run_gets_no_notes():
    run = make_run(listed_total=3, checkpoint={"listed": True, "listed_duration_sec": 300})
    for index in range(3):
        add_job(add_record(run, f"ok{index}"))

    facts = report_facts(run)

    assert facts.recommendations == []
    assert "- Замечаний нет." in render_report(facts)
