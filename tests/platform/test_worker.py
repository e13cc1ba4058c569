"""The worker (django-q2 cluster + metrics exporter) runs tasks on the configured broker.

ORM broker on the default run, Redis on CI's second run (Q_BROKER passes through).
"""

import signal
import sqlite3
import subprocess
import sys
import time
import uuid

import pytest
from django.conf import settings

from tests.processes import GUNICORN, free_port, http_get, http_get_once, manage, process_env

pytestmark = pytest.mark.slow


def sample(text: str, prefix: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix))


@pytest.fixture
def worker_env(tmp_path):
    env = process_env(
        "Q_BROKER",
        "REDIS_HOST",
        "REDIS_PORT",
        DATABASE_URL=f"sqlite:///{tmp_path / 'worker.sqlite3'}",
        Q_WORKERS="1",
        LOG_LEVEL="WARNING",
        WORKER_METRICS_HOST="127.0.0.1",
        WORKER_METRICS_PORT=str(free_port()),
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prometheus"),
    )
    (tmp_path / "prometheus").mkdir()
    migrated = manage("migrate", "--noinput", env=env)
    assert migrated.returncode == 0, migrated.stderr
    return env, tmp_path / "worker.sqlite3"


def test_a_queued_task_is_run_and_measured_by_the_worker(worker_env):
    env, database = worker_env
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "worker"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        marker = uuid.uuid4().hex[:8]
        enqueue = f"from django_q.tasks import async_task; print(async_task('mastermobile.q.ping_task', '{marker}'))"
        queued = manage("shell", "-c", enqueue, env=env)
        assert queued.returncode == 0, queued.stderr
        task_id = queued.stdout.strip().splitlines()[-1]

        deadline = time.monotonic() + 60
        row = None
        while time.monotonic() < deadline and row is None:
            with sqlite3.connect(database) as connection:
                row = connection.execute("SELECT success, func FROM django_q_task WHERE id = ?", (task_id,)).fetchone()
            if row is None:
                time.sleep(0.2)
        assert row == (1, "mastermobile.q.ping_task"), "the worker did not finish the task in 60 s"

        shown = manage("shell", "-c", f"from django_q.tasks import result; print(result('{task_id}'))", env=env)
        assert shown.stdout.strip().splitlines()[-1] == f"pong:{marker}"

        metrics = http_get(f"http://127.0.0.1:{env['WORKER_METRICS_PORT']}/metrics")
        duration_count = (
            'background_tasks_duration_seconds_count{status="success",task_name="mastermobile.q.ping_task"}'
        )
        assert sample(metrics, duration_count) == 1
        assert 'queue_lag_seconds{queue_name="mastermobile"}' in metrics
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)


def test_web_metrics_add_up_across_gunicorn_workers(tmp_path):
    port = free_port()
    env = process_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'web.sqlite3'}",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prometheus"),
        LOG_LEVEL="WARNING",
    )
    (tmp_path / "prometheus").mkdir()
    server = subprocess.Popen(
        [*GUNICORN, "--bind", f"127.0.0.1:{port}", "--workers", "2"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        http_get(f"http://127.0.0.1:{port}/health")
        for _ in range(20):
            http_get_once(f"http://127.0.0.1:{port}/api/v1/system/ping")

        metrics = http_get_once(f"http://127.0.0.1:{port}/metrics")

        ping = 'http_requests_total{method="GET",path="/api/v1/system/ping",status_code="200"}'
        assert sample(metrics, ping) == 20
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def test_a_command_in_another_process_sees_the_running_cluster(worker_env):
    env, _database = worker_env
    probe = "from mastermobile.q import cluster_running; print(cluster_running())"
    assert manage("shell", "-c", probe, env=env).stdout.strip().endswith("False")
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "worker", "--no-metrics"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not manage("shell", "-c", probe, env=env).stdout.strip().endswith("True"):
            assert worker.poll() is None, "the worker exited"
            assert time.monotonic() < deadline, "no process saw the cluster within 60 s"
            time.sleep(0.5)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
