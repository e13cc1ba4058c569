"""The report's QA sample: 50 completed records seeded by run_id, verdicts from the admin (EXP-08 §7)."""

from __future__ import annotations

import pytest

from calls.models import CallExport, CallRecord, QaReview
from calls.reports import qa_sample, render_report, report_facts
from tests.calls.report_fixtures import add_record, make_run

pytestmark = pytest.mark.django_db


def run_with_completed(count: int) -> CallExport:
    run = make_run()
    for index in range(count):
        add_record(run, f"{run.run_id.hex[:6]}-{index:03d}")
    return run


def test_the_sample_holds_fifty_completed_records_and_is_the_same_for_the_same_run():
    run = run_with_completed(80)

    first = [row.call_id for row in qa_sample(run)]

    assert len(first) == 50
    assert [row.call_id for row in qa_sample(CallExport.objects.get(pk=run.pk))] == first


def test_another_run_draws_another_sample():
    one, other = run_with_completed(80), run_with_completed(80)

    def positions(run):
        return [int(row.call_id.rsplit("-", 1)[1]) for row in qa_sample(run)]

    assert positions(one) != positions(other)


def test_a_run_with_fewer_than_fifty_completed_records_samples_them_all():
    run = run_with_completed(7)
    add_record(run, "broken", status="error")

    assert len(qa_sample(run)) == 7


def test_verdicts_entered_after_a_report_show_when_it_is_regenerated():
    run = run_with_completed(3)
    before = render_report(report_facts(run))
    record = CallRecord.objects.filter(run=run).order_by("call_id").first()
    assert record is not None
    QaReview.objects.create(call_record=record, verdict="issue", comment="перепутаны | имена")

    after = render_report(report_facts(run))

    assert "перепутаны" not in before
    (row,) = [line for line in after.splitlines() if line.startswith(f"| {record.call_id} ")]
    assert "| issue | перепутаны \\| имена |" in row
