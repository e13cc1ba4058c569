"""The broker named by Q_BROKER is the one django-q2 uses (PLAT-03)."""

import uuid

import pytest
from django.conf import settings
from django_q.brokers import get_broker
from django_q.brokers.orm import ORM
from django_q.brokers.redis_broker import Redis

from mastermobile.config import load_config
from mastermobile.q import QUEUE_NAME, build_q_cluster


@pytest.mark.django_db
def test_the_configured_broker_is_used():
    expected = Redis if settings.APP_CONFIG.uses_redis_broker else ORM

    assert type(get_broker()) is expected


def test_the_redis_broker_uses_the_database_redis_db_names():
    default = build_q_cluster(load_config({"Q_BROKER": "redis", "REDIS_HOST": "127.0.0.1"}))
    chosen = build_q_cluster(load_config({"Q_BROKER": "redis", "REDIS_HOST": "127.0.0.1", "REDIS_DB": "5"}))

    assert default["redis"] == {"host": "127.0.0.1", "port": 6379, "db": 0}
    assert chosen["redis"]["db"] == 5


@pytest.mark.redis
def test_the_redis_broker_round_trips_a_message():
    broker = get_broker(list_key=f"{QUEUE_NAME}-test-{uuid.uuid4().hex}")
    assert broker.ping()

    broker.enqueue("payload-1")
    task = broker.dequeue()

    assert task[0][1] == b"payload-1"
    broker.delete_queue()


@pytest.mark.django_db
def test_queue_lag_is_the_age_of_the_oldest_waiting_task():
    from datetime import timedelta

    from django.utils import timezone
    from django_q.signing import SignedPackage

    from mastermobile.observability.collectors import oldest_queued_task_age

    broker = get_broker(list_key=f"{QUEUE_NAME}-lag-{uuid.uuid4().hex}")
    assert oldest_queued_task_age(broker) == 0.0

    broker.enqueue(SignedPackage.dumps({"id": "old", "started": timezone.now() - timedelta(seconds=90)}))
    broker.enqueue(SignedPackage.dumps({"id": "new", "started": timezone.now()}))

    try:
        assert 89 <= oldest_queued_task_age(broker) < 120
    finally:
        broker.delete_queue()
