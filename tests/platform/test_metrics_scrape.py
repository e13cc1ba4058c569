"""Metrics read at scrape time on the web app's /metrics: queue depth and lag, the oldest running export."""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from datetime import datetime, timedelta
from unittest import mock

import pytest
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.tasks import async_task
from prometheus_client.parser import text_string_to_metric_families

from calls.models import CallExport, CallExportStatus
from mastermobile.q import QUEUE_NAME

pytestmark = pytest.mark.django_db

PERIOD_FROM = timezone.make_aware(datetime(2025, 8, 1))
PERIOD_TO = timezone.make_aware(datetime(2025, 8, 31))


def value(text: str, name: str, **labels: str) -> float | None:
    """The sample ``name{labels}`` of an exposition, None when it is not there."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return None


@pytest.fixture
def queue(monkeypatch):
    """A queue of this test's own on the configured broker, the one /metrics reports; emptied afterwards."""
    name = f"{QUEUE_NAME}-metrics-{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr("mastermobile.observability.metrics_access.QUEUE_NAME", name)
    yield name
    get_broker(name).delete_queue()


def test_metrics_show_the_depth_and_lag_of_tasks_waiting_in_the_queue(client, queue):
    with mock.patch("django.utils.timezone.now", return_value=timezone.now() - timedelta(seconds=90)):
        async_task("mastermobile.q.ping_task", "oldest", cluster=queue)
    async_task("mastermobile.q.ping_task", "newer", cluster=queue)
    async_task("mastermobile.q.ping_task", "newest", cluster=queue)

    text = client.get("/metrics").content.decode()

    assert value(text, "queue_depth", queue_name=queue) == 3
    lag = value(text, "queue_lag_seconds", queue_name=queue)
    assert lag is not None and 90 <= lag < 150


def test_an_empty_queue_has_depth_and_lag_zero(client, queue):
    text = client.get("/metrics").content.decode()

    assert value(text, "queue_depth", queue_name=queue) == 0
    assert value(text, "queue_lag_seconds", queue_name=queue) == 0


def test_a_task_a_worker_has_taken_is_no_longer_waiting(client, queue):
    with mock.patch("django.utils.timezone.now", return_value=timezone.now() - timedelta(seconds=90)):
        async_task("mastermobile.q.ping_task", "taken", cluster=queue)
    assert get_broker(queue).dequeue()

    text = client.get("/metrics").content.decode()

    assert value(text, "queue_depth", queue_name=queue) == 0
    assert value(text, "queue_lag_seconds", queue_name=queue) == 0


def test_the_running_seconds_are_the_age_of_the_oldest_run_in_progress(client):
    now = timezone.now()
    for status, minutes_ago in [
        (CallExportStatus.IN_PROGRESS, 5),
        (CallExportStatus.IN_PROGRESS, 2),
        (CallExportStatus.PENDING, 60),
        (CallExportStatus.COMPLETED, 120),
    ]:
        CallExport.objects.create(
            period_from=PERIOD_FROM - timedelta(days=minutes_ago),
            period_to=PERIOD_TO,
            status=status,
            started_at=now - timedelta(minutes=minutes_ago),
        )

    text = client.get("/metrics").content.decode()

    running = value(text, "call_export_running_seconds")
    assert running is not None and 300 <= running < 360


def test_the_running_seconds_are_zero_when_no_run_is_in_progress(client):
    CallExport.objects.create(
        period_from=PERIOD_FROM,
        period_to=PERIOD_TO,
        status=CallExportStatus.COMPLETED,
        started_at=timezone.now() - timedelta(hours=1),
    )

    text = client.get("/metrics").content.decode()

    assert value(text, "call_export_running_seconds") == 0


def test_a_broker_that_does_not_answer_leaves_the_other_metrics_and_a_log_line(client, caplog):
    with (
        mock.patch("django_q.brokers.get_broker", side_effect=ConnectionError("broker down")),
        caplog.at_level(logging.WARNING, logger="mastermobile.observability.collectors"),
    ):
        response = client.get("/metrics")

    text = response.content.decode()
    assert response.status_code == 200
    assert value(text, "call_export_running_seconds") == 0
    assert "http_requests_total" in text
    assert "queue_depth" not in text and "queue_lag_seconds" not in text
    failure = next(record for record in caplog.records if record.getMessage() == "metrics.collector_failed")
    assert failure.collector == "queue"


def test_a_database_error_leaves_the_other_metrics_and_a_log_line(client, caplog, queue):
    with (
        mock.patch(
            "mastermobile.observability.collectors.oldest_running_export_age",
            side_effect=DatabaseError("database down"),
        ),
        caplog.at_level(logging.WARNING, logger="mastermobile.observability.collectors"),
    ):
        response = client.get("/metrics")

    text = response.content.decode()
    assert response.status_code == 200
    assert value(text, "queue_depth", queue_name=queue) == 0
    assert "call_export_running_seconds" not in text
    failure = next(record for record in caplog.records if record.getMessage() == "metrics.collector_failed")
    assert failure.collector == "call_export_running"


def test_every_family_is_exported_once(client):
    text = client.get("/metrics").content.decode()

    types = Counter(line.split()[2] for line in text.splitlines() if line.startswith("# TYPE "))
    assert {name for name, count in types.items() if count > 1} == set()
    assert {"queue_depth", "queue_lag_seconds", "call_export_running_seconds"} <= set(types)


def test_every_family_of_ours_is_in_the_operations_guide(client):
    text = client.get("/metrics").content.decode()
    guide = (settings.BASE_DIR / "docs" / "operations.md").read_text()

    names = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
    # django-prometheus' and prometheus_client's own, and the *_created series a single process adds.
    ours = {name for name in names if not name.startswith(("django_", "python_", "process_"))}
    ours = {name for name in ours if not name.endswith("_created")}
    assert ours and {name for name in ours if f"`{name}`" not in guide} == set()
