"""The worker exporter: every STT-41 family, summed over all django-q2 worker processes (STT-40, STT-41)."""

from __future__ import annotations

import json
import sys
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.processes import free_port, http_get, http_get_once, manage, process_env, running

pytestmark = pytest.mark.slow

# STT-41 as the worker exports it; the http_* families are the web app's.
STT_41 = {
    "stt_jobs_total",
    "stt_job_duration_seconds",
    "call_export_runs_total",
    "call_export_success_total",
    "call_export_duration_seconds",
    "call_export_running_seconds",
    "call_transcripts_total",
    "call_transcription_minutes_total",
    "call_export_cost_total",
    "call_export_retry_total",
    "call_export_transcribe_failures_total",
    "call_export_qa_checked_total",
    "events_dlq_total",
    "integration_failures_total",
    "queue_lag_seconds",
}
# Open label sets: these appear at their first increment.
FIRST_SEEN_ON_USE = {"call_export_transcribe_failures_total", "integration_failures_total"}
TASKS = 6


def families(text: str) -> set[str]:
    return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}


def value(text: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return None


@pytest.fixture
def worker(tmp_path):
    """A running `manage.py worker` with two worker processes on a database of its own; yields its env."""
    env = process_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'worker.sqlite3'}",
        Q_WORKERS="2",
        LOG_LEVEL="WARNING",
        WORKER_METRICS_HOST="127.0.0.1",
        WORKER_METRICS_PORT=str(free_port()),
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prometheus"),
    )
    (tmp_path / "prometheus").mkdir()
    migrated = manage("migrate", "--noinput", env=env)
    assert migrated.returncode == 0, migrated.stderr
    with running([sys.executable, "manage.py", "worker"], env=env):
        yield env


def exporter(env: dict[str, str]) -> str:
    return f"http://127.0.0.1:{env['WORKER_METRICS_PORT']}/metrics"


def test_the_documented_series_are_exported_at_zero_before_any_task(worker):
    text = http_get(exporter(worker))

    assert families(text) >= STT_41 - FIRST_SEEN_ON_USE
    for status in ("success", "retry", "dlq", "missing_record", "skipped"):
        assert value(text, "stt_jobs_total", status=status) == 0
    for status in ("completed", "error", "missing_audio", "skipped"):
        assert value(text, "call_transcripts_total", status=status) == 0
    for stage in ("fetch_calls", "download", "transcribe"):
        assert value(text, "call_export_retry_total", stage=stage) == 0
    for status in ("completed", "error", "cancelled"):
        assert value(text, "call_export_runs_total", status=status) == 0
        assert value(text, "call_export_duration_seconds_count", status=status) == 0
    assert value(text, "events_dlq_total", event_type="call_export") == 0
    assert value(text, "stt_job_duration_seconds_count") == 0
    assert value(text, "call_export_cost_total") == 0
    assert value(text, "call_export_running_seconds") == 0
    # Not 0: the scheduler may have queued a housekeeping task already.
    assert value(text, "queue_depth", queue_name="mastermobile") is not None


def test_counts_from_every_worker_process_add_up_on_the_exporter(worker):
    enqueue = (
        "import json; from django_q.tasks import async_task; "
        f"print(json.dumps([async_task('tests.tasks.count_pipeline_outcome') for _ in range({TASKS})]))"
    )
    queued = manage("shell", "-c", enqueue, env=worker)
    assert queued.returncode == 0, queued.stderr
    task_ids = json.loads(queued.stdout.strip().splitlines()[-1])

    pids = results(task_ids, env=worker)
    deadline = time.monotonic() + 30
    text = http_get_once(exporter(worker))
    while value(text, "stt_jobs_total", status="success") != TASKS and time.monotonic() < deadline:
        time.sleep(0.2)
        text = http_get_once(exporter(worker))

    assert len(set(pids)) >= 2, "one process ran every task: nothing was summed"
    assert families(text) >= STT_41
    assert value(text, "stt_jobs_total", status="success") == TASKS
    assert value(text, "stt_jobs_total", status="retry") == 0
    assert value(text, "stt_job_duration_seconds_count") == TASKS
    assert value(text, "stt_job_duration_seconds_sum") == pytest.approx(2.5 * TASKS)
    assert value(text, "call_export_runs_total", status="completed") == TASKS
    assert value(text, "call_export_duration_seconds_count", status="completed") == TASKS
    assert value(text, "call_export_success_total") == TASKS
    assert value(text, "call_transcripts_total", status="completed") == TASKS
    assert value(text, "call_transcription_minutes_total") == 3 * TASKS
    assert value(text, "call_export_cost_total") == pytest.approx(0.25 * TASKS)
    assert value(text, "call_export_retry_total", stage="transcribe") == TASKS
    assert value(text, "call_export_transcribe_failures_total", code="429") == TASKS
    assert value(text, "call_export_qa_checked_total") == TASKS
    assert value(text, "events_dlq_total", event_type="call_export") == TASKS
    failures = {"system": "openai", "reason": "rate_limited", "retry_stage": "transcribe"}
    assert value(text, "integration_failures_total", **failures) == TASKS


def results(task_ids: list[str], *, env: dict[str, str], deadline_seconds: float = 90) -> list[int]:
    """What the tasks returned, once the worker has saved every result."""
    read = (
        "import json; from django_q.tasks import result; "
        f"print(json.dumps([result(task_id) for task_id in {task_ids!r}]))"
    )
    deadline = time.monotonic() + deadline_seconds
    while True:
        shown = manage("shell", "-c", read, env=env)
        assert shown.returncode == 0, shown.stderr
        found = json.loads(shown.stdout.strip().splitlines()[-1])
        if None not in found:
            return found
        assert time.monotonic() < deadline, (
            f"the worker finished {len(found) - found.count(None)} of {len(found)} tasks"
        )
        time.sleep(0.5)
