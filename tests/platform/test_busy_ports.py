"""A port already taken stops `serve` and `worker` with one line naming the address and the variable to change."""

import socket
import sys

import pytest

from tests.processes import free_port, http_get, manage, process_env, running

pytestmark = pytest.mark.slow


@pytest.fixture
def taken_port():
    """A port another program listens on for the length of the test."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def env_with(tmp_path, *, web_port: int, metrics_port: int) -> dict[str, str]:
    return process_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'ports.sqlite3'}",
        APP_HOST="127.0.0.1",
        APP_PORT=str(web_port),
        WORKER_METRICS_HOST="127.0.0.1",
        WORKER_METRICS_PORT=str(metrics_port),
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path),
    )


def the_one_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_serve_with_the_web_port_taken_says_which_and_starts_nothing(tmp_path, taken_port):
    result = manage("serve", env=env_with(tmp_path, web_port=taken_port, metrics_port=free_port()), timeout=60)

    line = the_one_line(result)
    assert f"cannot listen on 127.0.0.1:{taken_port} (APP_HOST:APP_PORT): Address already in use" in line
    assert "set APP_PORT to a free port" in line
    assert result.stdout == ""


def test_serve_with_the_worker_metrics_port_taken_says_which_and_starts_nothing(tmp_path, taken_port):
    result = manage("serve", env=env_with(tmp_path, web_port=free_port(), metrics_port=taken_port), timeout=60)

    line = the_one_line(result)
    assert f"127.0.0.1:{taken_port} (WORKER_METRICS_HOST:WORKER_METRICS_PORT)" in line
    assert "set WORKER_METRICS_PORT to a free port" in line
    assert result.stdout == ""


def test_serve_refuses_the_same_port_for_web_and_worker_metrics(tmp_path):
    port = free_port()

    result = manage("serve", env=env_with(tmp_path, web_port=port, metrics_port=port), timeout=60)

    assert "set WORKER_METRICS_PORT to a free port" in the_one_line(result)


def test_serve_without_the_worker_does_not_need_the_worker_metrics_port(tmp_path, taken_port):
    web_port = free_port()
    env = env_with(tmp_path, web_port=web_port, metrics_port=taken_port)
    assert manage("migrate", "--noinput", env=env).returncode == 0

    with running([sys.executable, "manage.py", "serve", "--no-worker"], env=env) as serve:
        health = http_get(f"http://127.0.0.1:{web_port}/health")

        assert serve.poll() is None
    assert '"status":"ok"' in health


def test_the_worker_with_its_metrics_port_taken_exits_with_one_line(tmp_path, taken_port):
    result = manage("worker", env=env_with(tmp_path, web_port=free_port(), metrics_port=taken_port), timeout=60)

    line = the_one_line(result)
    assert f"cannot listen on 127.0.0.1:{taken_port} (WORKER_METRICS_HOST:WORKER_METRICS_PORT)" in line
