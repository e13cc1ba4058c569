"""Who may read metrics: GET/HEAD from METRICS_ALLOWED_IPS (loopback by default) or with METRICS_TOKEN."""

from __future__ import annotations

import dataclasses
import socket
import subprocess
import sys
import time

import pytest
import requests
from django.conf import settings

from mastermobile.config import ConfigError, load_config
from mastermobile.observability.metrics_access import MetricsAccess
from tests.processes import GUNICORN, free_port, http_get, manage, process_env, running

TOKEN = "scrape-token-0123456789abcdef"
METRIC = "http_requests_total"


@pytest.fixture
def metrics_config(settings):
    """``configure(metrics_allowed_ips=…, metrics_token=…)`` for this test's requests."""

    def configure(**values):
        settings.APP_CONFIG = dataclasses.replace(settings.APP_CONFIG, **values)

    return configure


@pytest.mark.django_db
def test_metrics_are_served_to_get_and_head_from_this_machine(client):
    got = client.get("/metrics")
    head = client.head("/metrics")

    assert got.status_code == 200 and METRIC in got.content.decode()
    assert head.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"])
def test_any_other_method_is_405_without_metrics(client, method):
    response = client.generic(method, "/metrics")

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert METRIC not in response.content.decode()


@pytest.mark.django_db
def test_another_address_is_refused_without_metrics(client):
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9")

    assert response.status_code == 403
    assert METRIC not in response.content.decode()


@pytest.mark.django_db
def test_x_forwarded_for_does_not_make_a_remote_caller_local(client):
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="127.0.0.1")

    assert response.status_code == 403


@pytest.mark.django_db
def test_an_allow_list_replaces_loopback(client, metrics_config):
    metrics_config(metrics_allowed_ips=("10.0.0.0/8", "192.0.2.7/32"))

    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.8").status_code == 403
    assert client.get("/metrics").status_code == 403  # 127.0.0.1 is no longer listed


@pytest.mark.django_db
def test_the_bearer_token_lets_a_scraper_in_from_any_address(client, metrics_config):
    metrics_config(metrics_allowed_ips=(), metrics_token=TOKEN)

    with_token = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    wrong = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION=f"Bearer {TOKEN}x")
    basic = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION=f"Basic {TOKEN}")
    local_without = client.get("/metrics")

    assert with_token.status_code == 200 and METRIC in with_token.content.decode()
    assert [wrong.status_code, basic.status_code, local_without.status_code] == [403, 403, 403]


def test_ipv4_callers_on_a_dual_stack_socket_match_ipv4_networks():
    access = MetricsAccess.from_config(load_config({"METRICS_ALLOWED_IPS": "10.0.0.0/8"}))

    assert access.allows("::ffff:10.9.8.7", None)
    assert not access.allows("::ffff:11.0.0.1", None)
    assert not access.allows("not-an-address", None)
    assert not access.allows(None, None)


def test_metrics_access_is_read_from_the_environment():
    defaults = load_config({})
    listed = load_config({"METRICS_ALLOWED_IPS": "10.0.0.1, 192.168.0.0/16,::1", "METRICS_TOKEN": TOKEN})

    assert defaults.metrics_allowed_ips == ("127.0.0.1/32", "::1/128")
    assert defaults.metrics_token == "" and defaults.worker_metrics_host == "127.0.0.1"
    assert listed.metrics_allowed_ips == ("10.0.0.1/32", "192.168.0.0/16", "::1/128")
    assert load_config({"METRICS_ALLOWED_IPS": "none"}).metrics_allowed_ips == ()
    assert TOKEN in listed.secrets


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"METRICS_ALLOWED_IPS": "10.0.0.0/33"}, "METRICS_ALLOWED_IPS"),
        ({"METRICS_ALLOWED_IPS": "localhost"}, "METRICS_ALLOWED_IPS"),
        ({"METRICS_TOKEN": "short"}, "METRICS_TOKEN"),
    ],
)
def test_a_bad_metrics_setting_stops_start_up_naming_the_variable(variables, named):
    with pytest.raises(ConfigError, match=named):
        load_config(variables)


# Real processes -------------------------------------------------------------------


def accepts_connections(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(2)
        return probe.connect_ex((host, port)) == 0


@pytest.mark.slow
def test_the_worker_exporter_listens_on_loopback_by_default_and_answers_like_the_web_app(tmp_path):
    port = free_port()
    env = process_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'worker.sqlite3'}",
        Q_WORKERS="1",
        LOG_LEVEL="WARNING",
        WORKER_METRICS_PORT=str(port),
        METRICS_ALLOWED_IPS="none",
        METRICS_TOKEN=TOKEN,
    )
    assert manage("migrate", "--noinput", env=env).returncode == 0
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "worker"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        deadline = time.monotonic() + 60
        while not accepts_connections("127.0.0.1", port):
            assert worker.poll() is None, "the worker exited"
            assert time.monotonic() < deadline, "the exporter did not listen within 60 s"
            time.sleep(0.2)
        anonymous = requests.get(url, timeout=10)
        scraper = requests.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        head = requests.head(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        trace = requests.request("TRACE", url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        # Bound to 127.0.0.1, not 0.0.0.0: another address of this machine is refused.
        elsewhere = accepts_connections("127.0.0.2", port)
    finally:
        worker.terminate()
        worker.wait(timeout=30)

    assert anonymous.status_code == 403 and "queue_lag_seconds" not in anonymous.text
    assert scraper.status_code == 200 and "queue_lag_seconds" in scraper.text
    assert head.status_code == 200 and head.content == b""
    assert trace.status_code == 405 and trace.headers["Allow"] == "GET, HEAD"
    assert not elsewhere


@pytest.mark.slow
def test_gunicorn_refuses_trace_and_other_methods_on_metrics(tmp_path):
    port = free_port()
    env = process_env(DATABASE_URL=f"sqlite:///{tmp_path / 'web.sqlite3'}", LOG_LEVEL="WARNING")
    with running([*GUNICORN, "--bind", f"127.0.0.1:{port}", "--workers", "1"], env=env):
        url = f"http://127.0.0.1:{port}/metrics"
        got = http_get(url)
        refused = {method: requests.request(method, url, timeout=10) for method in ("TRACE", "POST", "DELETE")}

    assert METRIC in got
    assert {method: response.status_code for method, response in refused.items()} == dict.fromkeys(refused, 405)
    assert all(METRIC not in response.text for response in refused.values())
