"""Helpers for tests that run the project as real processes (manage.py, gunicorn, the worker)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
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
    """GET ``url`` from a process that is still starting: retry until it answers or the deadline passes."""
    deadline = time.monotonic() + deadline_seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def http_get_once(url: str, timeout: float = 60) -> str:
    """One GET, no retry: for requests a test counts (a retried one would be counted twice)."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode()


@contextlib.contextmanager
def running(args: list[str], *, env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """Run ``args`` in the project directory for the ``with`` block; SIGTERM it (then SIGKILL) on the way out."""
    process = subprocess.Popen(
        args, cwd=settings.BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
