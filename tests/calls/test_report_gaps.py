"""The report's gaps table: every record not completed, external text safe in a Markdown cell (EXP-08 §4)."""

from __future__ import annotations

import pytest

from calls.reports import render_report, report_facts
from calls.selectors import reports as selectors
from tests.calls.report_fixtures import add_record, finished_run, make_run

pytestmark = pytest.mark.django_db


def test_every_record_not_completed_is_a_gap_row():
    facts = report_facts(finished_run())

    assert [(gap.call_id, gap.status, gap.error_code, gap.attempts) for gap in facts.gaps] == [
        ("c-err", "error", "stt_failed", 3),
        ("c-miss", "missing_audio", "no_audio", 1),
        ("c-skip", "skipped", "no_recording", 1),
    ]


def test_a_pipe_and_a_line_break_in_a_message_stay_inside_their_cell_and_the_phone_is_masked():
    text = render_report(report_facts(finished_run()))

    (row,) = [line for line in text.splitlines() if line.startswith("| c-err ")]
    assert row.count(" | ") == 5  # six cells, the message's own pipe escaped
    assert "OpenAI said \\| no client" in row
    assert "+79161234567" not in text
    assert "hung up" in row


def test_a_long_gap_list_is_cut_with_a_count_of_the_rest(monkeypatch):
    monkeypatch.setattr(selectors, "REPORT_GAPS_LIMIT", 2)
    run = make_run()
    for index in range(5):
        add_record(run, f"e{index}", status="error", error_code="download_failed")

    facts = report_facts(run)

    assert (len(facts.gaps), facts.gaps_total, facts.gaps_left_out) == (2, 5, 3)
    assert "…и ещё 3 записей (всего пропусков: 5)." in render_report(facts)
