"""The shared Bitrix24 limiter (B24-06): a database token bucket, exact across processes."""

from __future__ import annotations

import bisect
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from integrations.bitrix24.ratelimit import RateLimiter
from integrations.models import TokenBucket

ROOT = Path(settings.BASE_DIR)


# One token per 100 seconds: the time the test itself takes between two
# reservations (milliseconds, seconds on a loaded machine) shortens a delay by
# at most a second, so delays are checked to within one second of the interval.
SLOW_RATE = 0.01
INTERVAL = 1 / SLOW_RATE


def within_a_second_below(delay: float, expected: float) -> bool:
    return expected - 1 < delay <= expected


@pytest.mark.django_db
def test_reservations_are_spaced_one_interval_apart():
    delays = [TokenBucket.reserve("b24:test", rate=SLOW_RATE) for _ in range(4)]

    assert delays[0] == 0
    assert all(within_a_second_below(delay, n * INTERVAL) for n, delay in enumerate(delays[1:], start=1)), delays


@pytest.mark.django_db
def test_a_burst_is_served_without_waiting():
    delays = [TokenBucket.reserve("b24:burst", rate=SLOW_RATE, burst=3) for _ in range(4)]

    assert delays[:3] == [0, 0, 0]
    assert within_a_second_below(delays[3], INTERVAL), delays


@pytest.mark.django_db
def test_buckets_are_independent_per_key():
    TokenBucket.reserve("b24:one", rate=1.0)

    assert TokenBucket.reserve("b24:two", rate=1.0) == 0


@pytest.mark.django_db
def test_the_limiter_sleeps_for_its_reserved_slot():
    slept: list[float] = []
    limiter = RateLimiter(key="b24:sleep", rate=SLOW_RATE, sleep=slept.append)

    limiter.acquire()
    limiter.acquire()

    assert len(slept) == 1 and within_a_second_below(slept[0], INTERVAL), slept


@pytest.mark.django_db
def test_a_zero_rate_disables_throttling():
    limiter = RateLimiter(key="b24:off", rate=0, sleep=lambda seconds: pytest.fail(f"slept {seconds} s"))

    assert limiter.acquire() == 0


@pytest.mark.django_db
def test_low_rate_mode_starts_after_more_than_ten_rate_limited_answers():
    now = [datetime(2026, 11, 25, 12, 0, tzinfo=UTC)]
    limiter = RateLimiter(key="b24:low", rate=2.0, now=lambda: now[0])
    for _ in range(10):
        limiter.record_rate_limited()
    assert not limiter.low_rate

    limiter.record_rate_limited()

    assert limiter.effective_rate == 0.5
    now[0] += timedelta(minutes=15, seconds=1)
    assert limiter.effective_rate == 2.0


@pytest.mark.django_db
def test_rate_limited_answers_older_than_fifteen_minutes_do_not_count():
    now = [datetime(2026, 11, 25, 12, 0, tzinfo=UTC)]
    limiter = RateLimiter(key="b24:aging", rate=2.0, now=lambda: now[0])
    for _ in range(10):
        limiter.record_rate_limited()
    now[0] += timedelta(minutes=16)

    limiter.record_rate_limited()

    assert not limiter.low_rate


@pytest.mark.django_db
def test_low_rate_mode_is_shared_by_every_limiter_of_the_portal():
    """Two processes build two limiters; the switch lives in the database, not in either of them."""
    first = RateLimiter(key="b24:shared-low", rate=2.0)
    second = RateLimiter(key="b24:shared-low", rate=2.0)
    for _ in range(6):
        first.record_rate_limited()
        second.record_rate_limited()

    assert first.low_rate and second.low_rate
    assert RateLimiter(key="b24:another-portal", rate=2.0).effective_rate == 2.0


WORKER = textwrap.dedent(
    """
    import sys, time
    import django
    django.setup()
    from django.db import transaction
    from integrations.models import TokenBucket
    rate, count = float(sys.argv[1]), int(sys.argv[2])
    for _ in range(count):
        with transaction.atomic():
            delay = TokenBucket.reserve("b24:shared", rate=rate)
            # Still holding the row: the moment the limiter measured the delay from.
            measured_at = TokenBucket.objects.get(value="b24:shared").updated.timestamp()
        time.sleep(delay)
        print(measured_at + delay, time.time(), flush=True)
    """
)


def _database_url(tmp_path: Path) -> str:
    if connection.vendor == "postgresql":
        db = connection.settings_dict
        return f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    url = f"sqlite:///{tmp_path / 'limiter.sqlite3'}"
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url},
        check=True,
        timeout=120,
    )
    return url


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_processes_together_never_exceed_the_rate(tmp_path):
    """Checked on the limiter's own clock, so a loaded machine (late wake-ups, slow prints) cannot fail it.

    Each worker prints the slot the limiter granted (the time it measured
    from plus the delay it returned) and when it actually went ahead.
    """
    rate, per_process = 10.0, 8
    env = {**os.environ, "DATABASE_URL": _database_url(tmp_path), "DJANGO_SETTINGS_MODULE": "mastermobile.settings"}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(rate), str(per_process)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [worker.communicate(timeout=120)[0] for worker in workers]

    assert [worker.returncode for worker in workers] == [0, 0]
    pairs = [tuple(map(float, line.split())) for output in outputs for line in output.splitlines()]
    assert len(pairs) == 2 * per_process
    granted = sorted(slot for slot, _ in pairs)
    # A bucket of one token: any one-second window holds at most rate + 1 slots.
    # Two independent buckets (a limiter per process) would put 2 * rate there.
    busiest_second = max(bisect.bisect_left(granted, start + 1.0) - index for index, start in enumerate(granted))
    assert busiest_second <= rate + 1, granted
    # Nobody goes before its slot: load only makes a process later (1 ms covers clock rounding).
    assert all(went >= slot - 0.001 for slot, went in pairs), pairs
