"""``manage.py call_report --run RUN_ID``: regenerate a run's report or whole package (EXP-08)."""

from __future__ import annotations

import uuid
from io import StringIO

import pytest
from django.core.files.storage import storages
from django.core.management import CommandError, call_command

from calls.models import QaReview
from calls.reports import package_keys
from tests.calls.report_fixtures import finished_run

pytestmark = pytest.mark.django_db


def report(*args: str) -> str:
    out = StringIO()
    call_command("call_report", *args, stdout=out)
    return out.getvalue()


def test_it_regenerates_the_report_with_the_verdicts_entered_since(storage_dir):
    run = finished_run()
    report("--run", str(run.run_id))
    record = run.records.get(call_id="c03")
    QaReview.objects.create(call_record=record, verdict="ok", comment="чисто")

    output = report("--run", str(run.run_id))

    keys = package_keys(run)
    assert output.strip() == keys.report
    text = storages["default"].open(keys.report).read().decode("utf-8")
    assert "| c03 | ru | Здравствуйте, звонок c03 | ok | чисто |" in text
    assert not storages["default"].exists(keys.registry)


def test_with_package_it_rewrites_all_three_files(storage_dir):
    run = finished_run()

    output = report("--run", str(run.run_id), "--package")

    keys = package_keys(run)
    assert output.split() == [keys.registry, keys.report, keys.log]
    assert all(storages["default"].exists(key) for key in output.split())
    run.refresh_from_db()
    assert run.package_built_at is not None


def test_an_unknown_run_is_refused(storage_dir):
    missing = uuid.uuid4()

    with pytest.raises(CommandError, match=f"no run {missing}"):
        report("--run", str(missing))


def test_a_run_id_that_is_not_a_uuid_is_refused(storage_dir):
    with pytest.raises(CommandError, match="'42' is not a run id"):
        report("--run", "42")


def test_a_dry_run_is_refused_and_nothing_is_written(storage_dir):
    run = finished_run(options={"dry_run": True})

    with pytest.raises(CommandError, match="is a dry run; it has no report"):
        report("--run", str(run.run_id))
    assert not storages["default"].exists(package_keys(run).report)


def test_a_dry_run_package_is_refused_and_nothing_is_written(storage_dir):
    run = finished_run(options={"dry_run": True})

    with pytest.raises(CommandError, match="is a dry run"):
        report("--run", str(run.run_id), "--package")
    assert not any(storages["default"].exists(key) for key in vars(package_keys(run)).values())
