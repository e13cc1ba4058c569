"""Metrics read from the broker and the database when Prometheus scrapes, and the registry a scrape reads.

Queue depth, queue lag and the age of the oldest running export are states,
not events: no process increments them, so a collector asks the broker and
the database at scrape time.  The web app's ``/metrics`` and the worker's
exporter each build their registry with :func:`metrics_registry`, so each
exposition carries every family once.

A collector that cannot reach its source (database or broker down, a payload
signed with another key) logs ``metrics.collector_failed`` and leaves its
families out; the scrape still returns everything else.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

from django.db.models import Min
from django.utils import timezone
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)


def oldest_queued_task_age(broker) -> float:
    """Seconds since the oldest waiting task was enqueued (0 when the queue is empty)."""
    # Imported here: django_q's modules read settings and models when imported.
    from django_q.signing import SignedPackage

    payload = broker.peek_oldest() if hasattr(broker, "peek_oldest") else _peek_oldest(broker)
    if payload is None:
        return 0.0
    task = SignedPackage.loads(payload)
    return max(0.0, (timezone.now() - task["started"]).total_seconds())


def _peek_oldest(broker):
    from django_q.brokers.orm import ORM
    from django_q.brokers.redis_broker import Redis

    if isinstance(broker, ORM):
        # A row whose lock lies ahead is being run, not waiting: the same rule as ORM.queue_size().
        waiting = broker.get_connection().filter(key=broker.list_key, lock__lte=timezone.now())
        return waiting.order_by("id").values_list("payload", flat=True).first()
    if isinstance(broker, Redis):
        # django-q2 pushes with rpush and pops with blpop: the head is the oldest.
        return broker.connection.lindex(broker.list_key, 0)
    return None


def oldest_running_export_age() -> float:
    """Seconds since the oldest ``in_progress`` call export run started (0 when none runs)."""
    from calls.models import CallExport, CallExportStatus

    # The partial index callexport_open_status covers this filter.
    started = CallExport.objects.filter(status=CallExportStatus.IN_PROGRESS).aggregate(oldest=Min("started_at"))
    if started["oldest"] is None:
        return 0.0
    return max(0.0, (timezone.now() - started["oldest"]).total_seconds())


class QueueCollector(Collector):
    """``queue_depth`` and ``queue_lag_seconds`` of one django-q2 queue, on either broker."""

    def __init__(self, queue_name: str):
        self.queue_name = queue_name

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from django_q.brokers import get_broker

        try:
            broker = get_broker(self.queue_name)
            depth = broker.queue_size()
            lag = oldest_queued_task_age(broker)
        except Exception:
            log_failure("queue", queue_name=self.queue_name)
            return
        depth_family = GaugeMetricFamily("queue_depth", "Tasks waiting in the queue.", labels=["queue_name"])
        depth_family.add_metric([self.queue_name], depth)
        lag_family = GaugeMetricFamily("queue_lag_seconds", "Age of the oldest queued task.", labels=["queue_name"])
        lag_family.add_metric([self.queue_name], lag)
        yield depth_family
        yield lag_family


class CallExportRunningCollector(Collector):
    """``call_export_running_seconds``: how long the oldest running export has been running (STT-41)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            age = oldest_running_export_age()
        except Exception:
            log_failure("call_export_running")
            return
        yield GaugeMetricFamily(
            "call_export_running_seconds", "Age of the oldest in_progress call export run (0 when none).", value=age
        )


def log_failure(collector: str, **fields: str) -> None:
    logger.warning(
        "metrics.collector_failed",
        extra={"event": "metrics.collector_failed", "collector": collector, **fields},
        exc_info=True,
    )


def metrics_registry(queue_name: str) -> CollectorRegistry:
    """What one scrape reads: the counters of every process, then the scrape-time collectors.

    In multiprocess mode (gunicorn and the worker, PROMETHEUS_MULTIPROC_DIR
    set) the counters are the sum of every process's files; otherwise they
    are this process's default registry (runserver, tests).
    """
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        # The default registry is a collector too: this adds its families without
        # registering anything on it, so scrapes never pile collectors up there.
        registry.register(REGISTRY)
    registry.register(QueueCollector(queue_name))
    registry.register(CallExportRunningCollector())
    return registry
