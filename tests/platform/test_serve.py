"""`manage.py serve` (what `make run` starts): web server and worker together, both stopped by Ctrl-C."""

import signal
import subprocess
import sys

import pytest
from django.conf import settings

from mastermobile.management.commands.serve import where_to_reach
from tests.processes import free_port, http_get, http_get_once, manage, process_env, running

pytestmark = pytest.mark.slow


def children_of(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(line) for line in found.stdout.split()]


def test_serve_runs_web_and_worker_and_ctrl_c_stops_both(tmp_path):
    web_port, metrics_port = free_port(), free_port()
    env = process_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'serve.sqlite3'}",
        APP_HOST="127.0.0.1",
        APP_PORT=str(web_port),
        WORKER_METRICS_HOST="127.0.0.1",
        WORKER_METRICS_PORT=str(metrics_port),
        LOG_LEVEL="WARNING",
    )
    assert manage("migrate", "--noinput", env=env).returncode == 0
    serve = subprocess.Popen(
        [sys.executable, "manage.py", "serve"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        health = http_get(f"http://127.0.0.1:{web_port}/health")
        worker_metrics = http_get(f"http://127.0.0.1:{metrics_port}/metrics")
        children = children_of(serve.pid)
        assert '"status":"ok"' in health
        assert "queue_lag_seconds" in worker_metrics
        assert len(children) == 2

        serve.send_signal(signal.SIGINT)
        output, _ = serve.communicate(timeout=60)
    finally:
        if serve.poll() is None:
            serve.kill()

    assert serve.returncode == 0
    assert f"MasterMobile on http://127.0.0.1:{web_port}/ (admin" in output
    assert "No admin login yet" in output
    assert all(subprocess.run(["kill", "-0", str(pid)], capture_output=True).returncode != 0 for pid in children)
    # Each child led its own process group; nothing of gunicorn's or django-q2's is left in them.
    assert [pid for pid in children if subprocess.run(["pgrep", "-g", str(pid)]).returncode == 0] == []
    assert list((settings.VAR_DIR / "prometheus").glob(f"*-{serve.pid}")) == []


def test_a_second_serve_from_the_same_checkout_leaves_the_first_ones_metrics_alone(tmp_path):
    """Two test runs, or a test run beside `make run`: each serve has its own metrics directories."""
    first_port, second_port = free_port(), free_port()
    env = process_env(DATABASE_URL=f"sqlite:///{tmp_path / 'serve.sqlite3'}", APP_HOST="127.0.0.1")
    assert manage("migrate", "--noinput", env=env).returncode == 0
    command = [sys.executable, "manage.py", "serve", "--no-worker"]
    ping = f"http://127.0.0.1:{first_port}/api/v1/system/ping"

    with running(command, env={**env, "APP_PORT": str(first_port)}) as first:
        http_get(f"http://127.0.0.1:{first_port}/health")
        http_get_once(ping)
        with running(command, env={**env, "APP_PORT": str(second_port)}) as second:
            http_get(f"http://127.0.0.1:{second_port}/health")
            http_get_once(ping)
            metrics = http_get_once(f"http://127.0.0.1:{first_port}/metrics")

            assert first.poll() is None and second.poll() is None
    assert 'http_requests_total{method="GET",path="/api/v1/system/ping",status_code="200"} 2.0' in metrics


def test_the_banner_says_when_the_server_is_open_to_the_network():
    assert where_to_reach("127.0.0.1", 8000) == "http://127.0.0.1:8000/"
    assert where_to_reach("0.0.0.0", 8000) == (
        "http://127.0.0.1:8000/ and every other address of this machine (APP_HOST=0.0.0.0)"
    )
