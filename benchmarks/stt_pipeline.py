"""The transcription stage through real django-q2 workers: throughput and per-job overhead (STT-09).

For each ``--concurrency`` level c, in a PostgreSQL database of its own:
``--recordings`` records as the download stage leaves them (audio stored,
``downloaded``, one ``queued`` job each) and a task table holding
``save_limit`` successful tasks, as a cluster that has run for a while
leaves it; then ``manage.py worker`` with ``TRANSCRIBE_CONCURRENCY=c`` and
``Q_WORKERS=c+2`` on the Redis broker (``REDIS_DB``, 5 by default, not the
test suites' 0) and the fake OpenAI answering every request after
``--latency-ms`` (no faults).  The clock starts at one explicit
``calls.tasks.dispatch_transcriptions()``; each finished task hands its slot
on (to the next job it claims itself, as in production).  The minute schedules are moved an hour ahead so that
the supervisor does not dispatch instead.  The clock stops at the last
job's ``finished_at``.

Printed per level: jobs/s, audio and billable minutes per hour, the overhead
per job beyond the fake's latency — from the wall time, ``wall × c / jobs −
latency``, and from the jobs' own ``duration_seconds`` (median, p95) —, the
fake's own answer time, the CPU per job of the worker's processes and of the
database's backends, and the scaling efficiency ``throughput(c) / (c ×
throughput(c₀))`` against the first level.  Target: overhead below 50 ms;
the exit code is 1 when it is missed.

    python benchmarks/stt_pipeline.py [--recordings 500] [--concurrency 1 4 8] [--latency-ms 200]
        [--audio-seconds 1] [--keep]

Needs PostgreSQL (``--postgres-url``, default ``BENCH_POSTGRES_URL`` or
``postgres://postgres@127.0.0.1:5432/postgres``; a database ``bench_stt_<pid>``
is created and dropped) and Redis (``REDIS_HOST``/``REDIS_PORT``, default
127.0.0.1:6379); without them it says so and exits 0, so ``make bench`` runs
the other benchmarks.  ``--keep`` leaves the database, the storage and the
worker logs for inspection; without it all of them are removed on exit,
Ctrl-C and SIGTERM included, and the worker's processes are stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.openai import FakeOpenAI, LoggedRequest  # noqa: E402  (needs ROOT on sys.path)

DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"
TARGET_OVERHEAD_S = 0.050
READY_TIMEOUT_S = 120
ENGINE = "openai-whisper"


class TimedFakeOpenAI(FakeOpenAI):
    """The fake OpenAI, noting how long each transcription answer took it (latency, parsing and "hearing")."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.service_seconds: list[float] = []

    def log(self, entry: LoggedRequest) -> str:
        if entry.kind == "transcription":
            self.service_seconds.append(time.time() - entry.at)
        return super().log(entry)


@dataclasses.dataclass
class Level:
    concurrency: int
    jobs: int
    succeeded: int
    wall_seconds: float
    audio_seconds: float
    billable_minutes: int
    durations: list[float]
    fake_service: list[float]
    load_before: float
    load_after: float
    worker_cpu_seconds: float
    postgres_cpu_seconds: float
    own_cpu_seconds: float

    @property
    def jobs_per_second(self) -> float:
        return self.succeeded / self.wall_seconds


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url(admin_url: str, name: str) -> str:
    parts = urlsplit(admin_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def admin_execute(admin_url: str, sql: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql)


@contextlib.contextmanager
def scratch_database(admin_url: str, name: str, *, keep: bool) -> Iterator[str]:
    admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin_execute(admin_url, f'CREATE DATABASE "{name}"')
    try:
        yield database_url(admin_url, name)
    finally:
        if keep:
            print(f"kept database {name}")
        else:
            admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Worker:
    """``manage.py worker`` in a session of its own, so stopping it takes its cluster processes along."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self.log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "worker"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self) -> None:
        """SIGTERM to the command (the cluster stops its own processes), SIGKILL to the session after 30 s."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        # Whatever of the cluster outlived the command.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()


def wait_until_ready(worker: Worker, workers: int) -> None:
    from django_q.status import Stat

    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if worker.process.poll() is not None:
            raise SystemExit(f"the worker exited with {worker.process.returncode}; see {worker.log.name}")
        # The guard publishes the status once the cluster runs (its text is translated: not compared);
        # a stopped level's cluster may still be listed for a few seconds.
        if any(stat.pid == worker.process.pid and len(stat.workers) >= workers for stat in Stat.get_all()):
            return
        time.sleep(0.2)
    raise SystemExit(f"the worker was not ready within {READY_TIMEOUT_S} s; see {worker.log.name}")


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "mastermobile.settings"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


def reset_tables() -> None:
    """Empty what a previous level left: the export, its records, jobs, transcripts, audit rows and tasks."""
    from django.db import connection
    from django_q.models import OrmQ, Task

    from calls.models import CallExport, CallRecord, CallSummary, Transcript, TranscriptionJob
    from integrations.models import CircuitState, IntegrationLog

    models = (
        TranscriptionJob,
        Transcript,
        CallSummary,
        CallRecord,
        CallExport,
        IntegrationLog,
        CircuitState,
        Task,
        OrmQ,
    )
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE " + ", ".join(f'"{model._meta.db_table}"' for model in models) + " CASCADE")


def postpone_schedules() -> None:
    """The supervisor would dispatch too (every minute); the benchmark dispatches once, explicitly."""
    from django.utils import timezone
    from django_q.models import Schedule

    Schedule.objects.update(next_run=timezone.now() + timedelta(hours=1))


def fill_task_history() -> None:
    """The task table as a cluster that has run for a while leaves it: ``save_limit`` successful tasks.

    django-q2's monitor reads every successful task (``SELECT … FOR UPDATE``)
    to prune the oldest each time it saves a result, so an empty table would
    hide a cost production pays on every task.
    """
    from django.conf import settings
    from django.utils import timezone
    from django_q.models import Task

    now = timezone.now() - timedelta(days=1)
    Task.objects.bulk_create(
        Task(
            id=uuid.uuid4().hex,
            name=f"history-{index}",
            func="calls.tasks.transcribe",
            args=(str(uuid.uuid4()),),
            kwargs={},
            result="succeeded",
            started=now,
            stopped=now,
            success=True,
        )
        for index in range(settings.Q_CLUSTER["save_limit"])
    )


def prepare(recordings: int, audio: bytes, audio_seconds: float) -> None:
    """``recordings`` records as the download stage leaves them: audio stored, ``downloaded``, one job ``queued``."""
    from django.utils import timezone

    from calls.models import CallExport, CallExportStatus, CallRecord, CallRecordStatus, TranscriptionJob
    from calls.storage import audio_key, save_stream

    now = timezone.now()
    run = CallExport.objects.create(
        period_from=now - timedelta(days=1),
        period_to=now,
        status=CallExportStatus.IN_PROGRESS,
        options={"engine": ENGINE, "generate_summary": False},
        checkpoint={"listed": True},
    )
    records = []
    for index in range(recordings):
        call_id = f"bench-{index:06d}"
        url = f"https://bench.invalid/records/{index}.mp3"
        key = audio_key(call_id=call_id, record_id=str(index), recording_url=url, call_started_at=now)
        stored = save_stream(key, [audio], content_type="audio/mpeg")
        records.append(
            CallRecord(
                run=run,
                call_id=call_id,
                record_id=str(index),
                direction="inbound",
                from_number="+70000000000",
                to_number="100",
                call_started_at=now,
                duration_sec=max(1, round(audio_seconds)),
                recording_url=url,
                storage_path=key,
                checksum=stored.sha256,
                audio_format="mp3",
                audio_codec="mp3",
                audio_duration_sec=audio_seconds,
                status=CallRecordStatus.DOWNLOADED,
                download_attempts=1,
                attempts=1,
            )
        )
    CallRecord.objects.bulk_create(records)
    TranscriptionJob.objects.bulk_create(
        TranscriptionJob(
            call_record=record,
            call_id=record.call_id,
            recording_url=record.recording_url or "",
            engine=ENGINE,
            dedup_key=TranscriptionJob.dedup_key_for(record.call_id, record.recording_url, ENGINE),
        )
        for record in CallRecord.objects.filter(run=run)
    )


def analyze() -> None:
    """Fresh planner statistics: with autovacuum off (as on the benchmark server) the new rows would be unknown."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


class CpuMeter:
    """CPU seconds used by the worker's processes and by the PostgreSQL backends of the benchmark database.

    Sampled while the jobs run: django-q2 replaces worker processes and
    Django closes connections older than ``CONN_MAX_AGE``, so a process seen
    once counts with its last sample.  Processes that already existed count
    from the first sample only.
    """

    def __init__(self, session: int, database: str):
        self.session = session
        self.database = database
        self.tick = os.sysconf("SC_CLK_TCK")
        self.first: dict[int, float] = {}
        self.last: dict[int, tuple[str, float]] = {}

    def sample(self, *, baseline: bool = False) -> None:
        from django.db import connection

        with connection.cursor() as cursor:
            # This process's own backend (the polling) is left out.
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [self.database]
            )
            backends = {pid for (pid,) in cursor.fetchall()}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            pid = int(entry.name)
            # After the command name: state ppid pgrp session … utime (12th) stime (13th).
            kind = "worker" if int(fields[3]) == self.session else "postgres" if pid in backends else None
            if kind is None:
                continue
            seconds = (int(fields[11]) + int(fields[12])) / self.tick
            if baseline:
                self.first[pid] = seconds
            self.last[pid] = (kind, seconds)

    def seconds(self, kind: str) -> float:
        return sum(used - self.first.get(pid, 0.0) for pid, (what, used) in self.last.items() if what == kind)


def wait_for_jobs(recordings: int, worker: Worker, meter: CpuMeter, deadline_s: float) -> None:
    from django.db.models import Count

    from calls.models import TranscriptionJob

    deadline = time.monotonic() + deadline_s
    next_sample = 0.0
    while time.monotonic() < deadline:
        if time.monotonic() >= next_sample:
            meter.sample()
            next_sample = time.monotonic() + 1.0
        open_jobs = TranscriptionJob.objects.filter(status__in=["queued", "running", "retry_wait"]).count()
        if not open_jobs:
            meter.sample()
            return
        if worker.process.poll() is not None:
            raise SystemExit(f"the worker exited with {worker.process.returncode}; see {worker.log.name}")
        time.sleep(0.2)
    states = dict(TranscriptionJob.objects.values_list("status").annotate(n=Count("id")).order_by())
    raise SystemExit(f"jobs still open after {deadline_s:g} s: {states}; see {worker.log.name}")


def run_level(
    concurrency: int, *, args: argparse.Namespace, env: dict[str, str], audio: bytes, fake: TimedFakeOpenAI, work: Path
) -> Level:
    from django.conf import settings
    from django.db import connection
    from django.db.models import Count, Max, Sum
    from django_q.brokers import get_broker

    from calls.models import TranscriptionJob
    from calls.tasks import dispatch_transcriptions

    reset_tables()
    get_broker().purge_queue()
    prepare(args.recordings, audio, args.audio_seconds)
    fill_task_history()
    analyze()
    postpone_schedules()
    workers = concurrency + 2
    multiproc = work / f"prometheus-c{concurrency}"
    multiproc.mkdir()
    worker_env = {
        **env,
        "TRANSCRIBE_CONCURRENCY": str(concurrency),
        "Q_WORKERS": str(workers),
        "WORKER_METRICS_HOST": "127.0.0.1",
        "WORKER_METRICS_PORT": str(free_port()),
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
    }
    worker = Worker(worker_env, work / f"worker-c{concurrency}.log")
    try:
        wait_until_ready(worker, workers)
        # dispatch() reads the cap from this process's configuration.
        settings.APP_CONFIG = dataclasses.replace(settings.APP_CONFIG, transcribe_concurrency=concurrency)
        served_before = len(fake.service_seconds)
        meter = CpuMeter(worker.process.pid, connection.settings_dict["NAME"])
        meter.sample(baseline=True)
        load_before = os.getloadavg()[0]
        own_cpu = time.process_time()
        started = time.time()
        dispatch_transcriptions()
        wait_for_jobs(args.recordings, worker, meter, args.deadline)
        own_cpu = time.process_time() - own_cpu
        load_after = os.getloadavg()[0]
    finally:
        worker.stop()
    jobs = TranscriptionJob.objects.all()
    totals = jobs.filter(status="succeeded").aggregate(
        last=Max("finished_at"), audio=Sum("audio_seconds"), minutes=Sum("billable_minutes")
    )
    succeeded = jobs.filter(status="succeeded").count()
    if succeeded != args.recordings:
        states = dict(jobs.values_list("status").annotate(n=Count("id")).order_by())
        raise SystemExit(f"only {succeeded} of {args.recordings} jobs succeeded: {states}; see {worker.log.name}")
    requests = len(fake.service_seconds) - served_before
    if requests != args.recordings:
        raise SystemExit(f"the fake OpenAI answered {requests} transcriptions for {args.recordings} jobs")
    return Level(
        concurrency=concurrency,
        jobs=args.recordings,
        succeeded=succeeded,
        wall_seconds=totals["last"].timestamp() - started,
        audio_seconds=totals["audio"] or 0.0,
        billable_minutes=totals["minutes"] or 0,
        durations=sorted(seconds for seconds in jobs.values_list("duration_seconds", flat=True) if seconds is not None),
        fake_service=fake.service_seconds[served_before:],
        load_before=load_before,
        load_after=load_after,
        worker_cpu_seconds=meter.seconds("worker"),
        postgres_cpu_seconds=meter.seconds("postgres"),
        own_cpu_seconds=own_cpu,
    )


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def report(levels: list[Level], *, latency_s: float, audio_seconds: float) -> bool:
    print(
        f"Transcription stage: {levels[0].jobs} recordings of {audio_seconds:g} s, fake OpenAI at "
        f"{latency_s * 1000:g} ms, PostgreSQL + Redis broker, Q_WORKERS = c + 2"
    )
    print(
        f"{'c':>3} {'wall s':>7} {'jobs/s':>7} {'audio min/h':>11} {'billed min/h':>12} {'overhead ms':>11} "
        f"{'job p50 ms':>10} {'job p95 ms':>10} {'fake p50 ms':>11} {'worker CPU':>10} {'PG CPU':>7} {'fake CPU':>8} "
        f"{'scaling':>7} {'load':>9}"
    )
    base = levels[0]
    met = True
    for level in levels:
        hours = level.wall_seconds / 3600
        overhead = level.wall_seconds * level.concurrency / level.jobs - latency_s
        fake_p50 = statistics.median(level.fake_service)
        scaling = level.jobs_per_second / (level.concurrency / base.concurrency * base.jobs_per_second)
        met = met and overhead < TARGET_OVERHEAD_S
        print(
            f"{level.concurrency:>3} {level.wall_seconds:>7.1f} {level.jobs_per_second:>7.2f} "
            f"{level.audio_seconds / 60 / hours:>11.0f} {level.billable_minutes / hours:>12.0f} "
            f"{overhead * 1000:>11.1f} {(statistics.median(level.durations) - latency_s) * 1000:>10.1f} "
            f"{(percentile(level.durations, 0.95) - latency_s) * 1000:>10.1f} {fake_p50 * 1000:>11.1f} "
            f"{level.worker_cpu_seconds / level.jobs * 1000:>10.1f} {level.postgres_cpu_seconds / level.jobs * 1000:>7.1f} "
            f"{level.own_cpu_seconds / level.jobs * 1000:>8.1f} "
            f"{scaling:>7.2f} {level.load_before:>4.1f}/{level.load_after:<4.1f}"
        )
    print(
        "  overhead = wall × c / jobs − latency; job p50/p95 = the jobs' duration_seconds − latency (claim to"
        " result, before the finishing transaction); fake = its own answer time (latency, parsing, decoding);"
        " worker/PG CPU = CPU ms per job of the cluster's processes and of the database's backends; fake CPU ="
        " this process's (the fake OpenAI's threads and the polling);"
        " scaling = jobs/s ÷ (c/c₀ × jobs/s at c₀); load = 1-minute load average before/after"
    )
    print(f"  target (overhead < {TARGET_OVERHEAD_S * 1000:g} ms at every level): {'met' if met else 'MISSED'}")
    return met


def unavailable(postgres_url: str, redis_host: str, redis_port: int) -> str | None:
    """Why the benchmark cannot run here, or None."""
    import redis

    try:
        psycopg.connect(postgres_url, connect_timeout=3).close()
    except psycopg.Error as error:
        return f"PostgreSQL at {urlsplit(postgres_url).hostname} refused: {str(error).strip().splitlines()[0]}"
    try:
        redis.Redis(host=redis_host, port=redis_port, socket_timeout=3, socket_connect_timeout=3).ping()
    except redis.RedisError as error:
        return f"Redis at {redis_host}:{redis_port} refused: {error}"
    return None


def interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recordings", type=int, default=500)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--latency-ms", type=float, default=200.0, help="fixed delay of every fake answer")
    parser.add_argument("--audio-seconds", type=float, default=1.0, help="length of each recording (an MP3 tone)")
    parser.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL))
    parser.add_argument("--redis-db", type=int, default=5, help="Redis database of the broker (tests use 0)")
    parser.add_argument("--deadline", type=float, default=600, help="seconds one level may take")
    parser.add_argument("--keep", action="store_true", help="leave the database, storage and worker logs")
    args = parser.parse_args()
    redis_host = os.environ.get("REDIS_HOST", "127.0.0.1")
    redis_port = int(os.environ.get("REDIS_PORT", "6379"))
    reason = unavailable(args.postgres_url, redis_host, redis_port)
    if reason:
        print(f"skipped: the transcription benchmark needs PostgreSQL and Redis; {reason}")
        return
    # SIGTERM unwinds like Ctrl-C, through the clean-up below.
    signal.signal(signal.SIGTERM, interrupt)

    from tests.fakes.audio import encoded, tone

    audio = encoded(tone(440, args.audio_seconds, rate=8000), container="mp3", rate=8000, bit_rate=32_000)
    work = Path(tempfile.mkdtemp(prefix="stt-bench-"))
    name = f"bench_stt_{os.getpid()}"
    levels: list[Level] = []
    try:
        with (
            scratch_database(args.postgres_url, name, keep=args.keep) as url,
            TimedFakeOpenAI(latency_s=args.latency_ms / 1000, fault_rate=0) as fake,
        ):
            env = {
                **{key: value for key, value in os.environ.items() if key in ("PATH", "HOME", "LANG")},
                "DATABASE_URL": url,
                "LOCAL_STORAGE_DIR": str(work / "storage"),
                "Q_BROKER": "redis",
                "REDIS_HOST": redis_host,
                "REDIS_PORT": str(redis_port),
                "REDIS_DB": str(args.redis_db),
                "OPENAI_API_KEY": fake.api_key,
                "OPENAI_BASE_URL": fake.base_url,
                "STT_MAX_FILE_MINUTES": "60",
                "CALL_SUMMARY_ENABLED": "false",
                "DJANGO_DEBUG": "false",
                "LOG_LEVEL": "INFO",
                "LOG_FORMAT": "json",
            }
            setup_django(env)
            try:
                for concurrency in args.concurrency:
                    levels.append(run_level(concurrency, args=args, env=env, audio=audio, fake=fake, work=work))
            finally:
                from django.db import connections
                from django_q.brokers import get_broker

                with contextlib.suppress(Exception):
                    get_broker().delete_queue()
                connections.close_all()
    except KeyboardInterrupt:
        print("interrupted; cleaning up", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        if args.keep:
            print(f"kept storage and worker logs in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if not report(levels, latency_s=args.latency_ms / 1000, audio_seconds=args.audio_seconds):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
