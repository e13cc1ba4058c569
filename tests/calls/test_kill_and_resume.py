"""A real `call_export` process killed with SIGKILL mid-way, then resumed, ends as if never interrupted."""

import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from tests.fakes.bitrix24 import FakeBitrix24
from tests.processes import manage, process_env

pytestmark = pytest.mark.slow
CALLS = 80


def query(database: Path, sql: str):
    with sqlite3.connect(database, timeout=30) as connection:
        return connection.execute(sql).fetchall()


@pytest.fixture
def export_env(tmp_path):
    with FakeBitrix24(calls=CALLS, days=30, rate=0) as fake:
        env = process_env(
            DATABASE_URL=f"sqlite:///{tmp_path / 'calls.sqlite3'}",
            LOCAL_STORAGE_DIR=str(tmp_path / "storage"),
            B24_BASE_URL=fake.base_url,
            B24_WEBHOOK_USER_ID=fake.user_id,
            B24_WEBHOOK_TOKEN=fake.token,
            B24_BACKOFF_SECONDS="0",
            LOG_LEVEL="WARNING",
        )
        migrated = manage("migrate", "--noinput", env=env)
        assert migrated.returncode == 0, migrated.stderr
        yield env, tmp_path / "calls.sqlite3", tmp_path / "storage", fake


def test_a_killed_run_resumes_to_the_same_end_state(export_env):
    env, database, storage, fake = export_env
    # Slow enough to be killed half-way through the downloads.
    slow = {**env, "B24_RATE_LIMIT_RPS": "8", "B24_DOWNLOAD_RATE_RPS": "8"}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "call_export", "--from", "2000-01-01", "--to", "2100-01-01"],
        cwd=settings.BASE_DIR,
        env=slow,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        finished = 0
        while time.monotonic() < deadline and finished < 15:
            if Path(database).exists():
                rows = query(
                    database, "SELECT count(*) FROM calls_callrecord WHERE status NOT IN ('pending', 'downloading')"
                )
                finished = rows[0][0] if rows else 0
            time.sleep(0.1)
        assert process.poll() is None, "the run finished before it could be killed; slow it down"
        assert finished >= 15
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    (run_id,) = query(database, "SELECT run_id FROM calls_callexport")[0]
    assert query(database, "SELECT status FROM calls_callexport")[0][0] == "in_progress"
    pending_before = query(database, "SELECT count(*) FROM calls_callrecord WHERE status IN ('pending', 'downloading')")
    assert pending_before[0][0] > 0, "the kill left nothing to resume"

    resumed = manage(
        "call_export", "--resume", str(run_id), env={**env, "B24_RATE_LIMIT_RPS": "0", "B24_DOWNLOAD_RATE_RPS": "0"}
    )

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert query(database, "SELECT count(*), count(DISTINCT call_id) FROM calls_callrecord")[0] == (CALLS, CALLS)
    assert (
        query(database, "SELECT count(*) FROM calls_callrecord WHERE status IN ('pending', 'downloading')")[0][0] == 0
    )
    assert query(database, "SELECT status FROM calls_callexport")[0][0] == "completed"
    stored = {path.name for path in storage.rglob("*") if path.is_file() and path.suffix != ".tmp"}
    recorded = {
        Path(row[0]).name
        for row in query(database, "SELECT storage_path FROM calls_callrecord WHERE storage_path != ''")
    }
    with_recording = sum(1 for item in fake.items if item.get("CALL_RECORD_URL") or item.get("RECORD_FILE_ID"))
    assert len(recorded) == with_recording
    assert recorded <= stored


def test_ctrl_c_prints_one_line_with_the_resume_command_and_exits_130(export_env, tmp_path):
    env, database, _storage, _fake = export_env
    # Unbuffered: the progress line must reach the file while the downloads run, not when the process exits.
    slow = {**env, "B24_RATE_LIMIT_RPS": "8", "B24_DOWNLOAD_RATE_RPS": "8", "PYTHONUNBUFFERED": "1"}
    stdout, stderr = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with stdout.open("w") as out, stderr.open("w") as err:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "call_export", "--from", "2000-01-01", "--to", "2100-01-01"],
            cwd=settings.BASE_DIR,
            env=slow,
            stdout=out,
            stderr=err,
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and "download: " not in stdout.read_text():
                assert process.poll() is None, stderr.read_text()
                time.sleep(0.1)
            assert "download: " in stdout.read_text(), "the downloads never started"
            assert process.poll() is None, "the run finished before it could be interrupted; slow it down"
            process.send_signal(signal.SIGINT)
            code = process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)

    (run_id,) = query(database, "SELECT run_id FROM calls_callexport")[0]
    run_id = str(uuid.UUID(run_id))
    assert code == 130
    assert stderr.read_text().splitlines() == [
        f"Interrupted; continue the run with: manage.py call_export --resume {run_id}"
    ]
    resumed = manage(
        "call_export", "--resume", run_id, env={**env, "B24_RATE_LIMIT_RPS": "0", "B24_DOWNLOAD_RATE_RPS": "0"}
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert query(database, "SELECT status FROM calls_callexport")[0][0] == "completed"
