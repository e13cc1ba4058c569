"""Metrics of the django-q2 worker: task durations from every worker process and queue lag."""

from __future__ import annotations

from collections.abc import Iterator

from django.utils import timezone
from prometheus_client import CollectorRegistry, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector


def oldest_queued_task_age(broker) -> float:
    """Seconds since the oldest waiting task was enqueued (0 when the queue is empty)."""
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
        row = (
            broker.get_connection().filter(key=broker.list_key).order_by("id").values_list("payload", flat=True).first()
        )
        return row
    if isinstance(broker, Redis):
        # django-q2 pushes with rpush and pops with blpop: the head is the oldest.
        return broker.connection.lindex(broker.list_key, 0)
    return None


class QueueLagCollector(Collector):
    def __init__(self, queue_name: str):
        self.queue_name = queue_name

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from django_q.brokers import get_broker

        family = GaugeMetricFamily("queue_lag_seconds", "Age of the oldest queued task.", labels=["queue_name"])
        family.add_metric([self.queue_name], oldest_queued_task_age(get_broker()))
        yield family


def worker_registry(queue_name: str) -> CollectorRegistry:
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(QueueLagCollector(queue_name))
    return registry
