"""The export through real django-q2 workers: both fakes, injected STT faults, and a worker killed mid-job.

The first worker is SIGKILLed (its whole process group, as the OOM killer or a
lost container would) while transcriptions are in flight; a second worker
takes over.  The run must end ``completed`` with exactly one transcript per
recording and every cost counted once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from decimal import Decimal

import psycopg
import pytest
from django.conf import settings

from tests.fakes.bitrix24 import FakeBitrix24
from tests.fakes.openai import FakeOpenAI
from tests.processes import free_port, http_get, manage, process_env, scratch_database

# Injected faults can open the provider's circuit for 30 s at a time; the run waits it out.
pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(900)]
# 60 calls, 54 with audio: enough for a backlog of transcriptions when the kill comes.
CALLS = 60


class Database:
    def __init__(self, url: str):
        self.url = url

    def one(self, sql: str):
        with psycopg.connect(self.url) as connection:
            return connection.execute(sql).fetchone()


def start_worker(env: dict[str, str]) -> subprocess.Popen:
    # A session of its own, so that the kill takes the cluster's worker processes with it.
    return subprocess.Popen(
        [sys.executable, "manage.py", "worker"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def kill_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def wait_for(check, *, seconds: float, what: str, state=None):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"{what} did not happen within {seconds:g} s; last state {state() if state else ''}")


@pytest.fixture
def pipeline(tmp_path, django_db_setup):
    with (
        scratch_database("worker_stt", tmp_path) as database_url,
        FakeBitrix24(calls=CALLS, days=30, rate=0) as portal,
        # Slower than the downloads, so that jobs are still queued once every recording is stored.
        FakeOpenAI(latency_s=1.5, fault_rate=0.1, seed=7) as provider,
    ):
        env = process_env(
            "Q_BROKER",
            "REDIS_HOST",
            "REDIS_PORT",
            DATABASE_URL=database_url,
            LOCAL_STORAGE_DIR=str(tmp_path / "storage"),
            B24_BASE_URL=portal.base_url,
            B24_WEBHOOK_USER_ID=portal.user_id,
            B24_WEBHOOK_TOKEN=portal.token,
            B24_BACKOFF_SECONDS="0",
            B24_RATE_LIMIT_RPS="0",
            OPENAI_API_KEY=provider.api_key,
            OPENAI_BASE_URL=provider.base_url,
            STT_MAX_FILE_MINUTES="60",
            STT_REQUEST_TIMEOUT_S="10",
            # Five retries at once: with 10 % faults a job dead-letters once in a million.
            STT_RETRY_DELAYS_S="0,0,0,0,0",
            # Long enough that a live job on a loaded machine is never taken for a dead worker's:
            # every release counts as an attempt and could use up the ladder.
            STT_STALE_JOB_SECONDS="20",
            TRANSCRIBE_CONCURRENCY="2",
            Q_WORKERS="4",
            CALL_SUMMARY_ENABLED="true",
            LOG_LEVEL="WARNING",
            WORKER_METRICS_HOST="127.0.0.1",
            WORKER_METRICS_PORT=str(free_port()),
        )
        migrated = manage("migrate", "--noinput", env=env)
        assert migrated.returncode == 0, migrated.stderr
        yield env, Database(database_url), provider


def test_a_killed_worker_leaves_exactly_one_transcript_per_recording(pipeline):
    env, db, provider = pipeline
    first = start_worker(env)
    second = None
    try:
        queued = manage("call_export", "--from", "2000-01-01", "--to", "2100-01-01", "--no-wait", env=env)
        assert queued.returncode == 0, queued.stdout + queued.stderr
        # The kill comes once every recording is stored (a download task lost with the worker is
        # the download stage's business, retried after 30 minutes) and while jobs are in flight.
        wait_for(
            lambda: db.one(
                "SELECT count(*) FILTER (WHERE status IN ('pending', 'downloading')) = 0"
                " AND count(*) FILTER (WHERE status = 'transcribing') > 0"
                " AND count(*) FILTER (WHERE status = 'downloaded') >= 5"
                " FROM calls_callrecord"
            )[0],
            seconds=240,
            what="transcriptions in flight after the downloads",
            state=lambda: db.one(
                "SELECT json_object_agg(status, n) FROM (SELECT status, count(*) n FROM calls_callrecord GROUP BY 1) r"
            ),
        )
        kill_group(first, signal.SIGKILL)
        (in_flight,) = db.one("SELECT count(*) FROM calls_transcriptionjob WHERE status = 'running'")
        assert in_flight > 0, "the kill hit no job in flight"

        second = start_worker(env)
        wait_for(
            lambda: db.one("SELECT status FROM calls_callexport")[0] == "completed",
            seconds=600,
            what="the run's completion",
            state=lambda: db.one(
                "SELECT (SELECT json_object_agg(status, n) FROM (SELECT status, count(*) n FROM calls_callrecord"
                " GROUP BY 1) r), (SELECT json_object_agg(status, n) FROM (SELECT status, count(*) n"
                " FROM calls_transcriptionjob GROUP BY 1) j)"
            ),
        )

        with_audio, transcripts, distinct = db.one(
            "SELECT (SELECT count(*) FROM calls_callrecord WHERE error_code IS DISTINCT FROM 'no_recording'),"
            " (SELECT count(*) FROM calls_transcript),"
            " (SELECT count(DISTINCT call_record_id) FROM calls_transcript)"
        )
        jobs = db.one(
            "SELECT json_agg(json_build_object('status', status, 'attempts', attempts, 'code', last_error_code,"
            " 'message', left(last_error_message, 120)))"
            " FROM calls_transcriptionjob WHERE status <> 'succeeded' OR attempts > 2"
        )
        assert with_audio == transcripts == distinct, jobs
        assert db.one("SELECT count(*) FROM calls_callrecord WHERE status NOT IN ('completed', 'skipped')")[0] == 0
        assert db.one("SELECT count(*) FROM calls_transcriptionjob WHERE status <> 'succeeded'")[0] == 0
        # The jobs the kill interrupted were picked up again: more attempts than first calls.
        assert db.one("SELECT max(attempts) FROM calls_transcriptionjob")[0] >= 2
        # Cost counted once per recording: a quarter-second tone is one started minute.
        total_cost, minutes = db.one("SELECT total_cost, transcribed_minutes FROM calls_callexport")
        assert minutes == with_audio
        assert total_cost == (Decimal("0.006") * with_audio).quantize(Decimal("0.01"))
        assert len(provider.transcriptions()) >= with_audio

        # Per-record tasks leave their outcome on the rows above, not in django-q2's task table.
        saved_record_tasks, saved_listings = db.one(
            "SELECT count(*) FILTER (WHERE success AND func IN ('calls.tasks.transcribe',"
            " 'calls.tasks.download_recording')), count(*) FILTER (WHERE func = 'calls.tasks.list_calls')"
            " FROM django_q_task"
        )
        # The listing's own task is still saved (twice when the supervisor's minute lists the run again).
        assert saved_record_tasks == 0
        assert saved_listings >= 1

        metrics = http_get(f"http://127.0.0.1:{env['WORKER_METRICS_PORT']}/metrics")
        assert 'stt_jobs_total{status="success"}' in metrics
    finally:
        kill_group(first, signal.SIGKILL)
        if second is not None:
            kill_group(second, signal.SIGTERM)
