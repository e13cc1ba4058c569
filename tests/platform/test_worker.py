"""The django-q2 cluster runs tasks on the configured broker (ORM by default, Redis on CI)."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid

import pytest
from django.conf import settings

pytestmark = pytest.mark.slow


def manage(*args, env, timeout=120):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def worker_env(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key in ("PATH", "HOME", "Q_BROKER", "REDIS_HOST", "REDIS_PORT")
    }
    env.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'worker.sqlite3'}", "Q_WORKERS": "1", "LOG_LEVEL": "WARNING"})
    migrated = manage("migrate", "--noinput", env=env)
    assert migrated.returncode == 0, migrated.stderr
    return env, tmp_path / "worker.sqlite3"


def test_a_queued_task_is_run_by_the_cluster(worker_env):
    env, database = worker_env
    cluster = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        marker = uuid.uuid4().hex[:8]
        queued = manage(
            "shell",
            "-c",
            f"from django_q.tasks import async_task; print(async_task('mastermobile.q.ping_task', '{marker}'))",
            env=env,
        )
        assert queued.returncode == 0, queued.stderr
        task_id = queued.stdout.strip().splitlines()[-1]

        deadline = time.monotonic() + 60
        row = None
        while time.monotonic() < deadline and row is None:
            with sqlite3.connect(database) as connection:
                row = connection.execute("SELECT success, func FROM django_q_task WHERE id = ?", (task_id,)).fetchone()
            if row is None:
                time.sleep(0.2)
        assert row == (1, "mastermobile.q.ping_task"), "the cluster did not finish the task in 60 s"

        shown = manage("shell", "-c", f"from django_q.tasks import result; print(result('{task_id}'))", env=env)
        assert shown.stdout.strip().splitlines()[-1] == f"pong:{marker}"
    finally:
        cluster.send_signal(signal.SIGTERM)
        cluster.wait(timeout=30)
