"""Helpers for tests that run the project as real processes (manage.py, gunicorn, the worker)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator

from django.conf import settings

# gunicorn as `serve` and the Docker image start it; tests add --bind and --workers.
GUNICORN = [
    sys.executable,
    "-m",
    "gunicorn",
    "mastermobile.wsgi:application",
    "--config",
    "python:mastermobile.gunicorn_conf",
]


@contextlib.contextmanager
def scratch_database(suffix: str, sqlite_dir) -> Iterator[str]:
    """A ``DATABASE_URL`` of an empty database for processes the test starts, on the test run's server.

    On PostgreSQL, ``<test database>_<suffix>`` is created and dropped again
    (``WITH (FORCE)``: a killed process may still hold a connection); on
    SQLite, a file in ``sqlite_dir``.
    """
    import psycopg

    default = settings.DATABASES["default"]
    if not default["ENGINE"].endswith("postgresql"):
        yield f"sqlite:///{sqlite_dir / f'{suffix}.sqlite3'}"
        return
    name = f"{default['NAME']}_{suffix}"
    server = {
        key: value
        for key, value in {
            "host": default["HOST"],
            "port": default["PORT"],
            "user": default["USER"],
            "password": default["PASSWORD"],
        }.items()
        if value
    }
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    credentials = server.get("user", "postgres") + (f":{server['password']}" if "password" in server else "")
    try:
        yield f"postgres://{credentials}@{server.get('host', '127.0.0.1')}:{server.get('port', 5432)}/{name}"
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def process_env(*passthrough: str, **values: str) -> dict[str, str]:
    """A clean environment: PATH and HOME, the named variables of this one, then ``values``."""
    keep = {"PATH", "HOME", *passthrough}
    return {**{key: value for key, value in os.environ.items() if key in keep}, **values}


def manage(*args: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def http_get(url: str, deadline_seconds: float = 60) -> str:
    """GET ``url`` from a process that is still starting: retry until it answers or the deadline passes.

    A retry after a slow answer reaches the server twice; requests the test
    counts go through :func:`http_get_once`.
    """
    deadline = time.monotonic() + deadline_seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def http_get_once(url: str, timeout: float = 120) -> str:
    """One GET to a server that is up, waiting for it however loaded the machine is."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode()


@contextlib.contextmanager
def running(args: list[str], *, env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """Run ``args`` in the project directory for the ``with`` block; SIGTERM it (then SIGKILL) on the way out.

    When the block fails, the process's output is attached to the error: a
    server that never came up says why.
    """
    with tempfile.TemporaryFile("w+") as output:
        process = subprocess.Popen(
            args, cwd=settings.BASE_DIR, env=env, stdout=output, stderr=subprocess.STDOUT, text=True
        )
        try:
            yield process
        except BaseException as error:
            stop(process)
            output.seek(0)
            error.add_note(f"output of {' '.join(args[1:])} (exit code {process.returncode}):\n{output.read()[-4000:]}")
            raise
        finally:
            stop(process)


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
