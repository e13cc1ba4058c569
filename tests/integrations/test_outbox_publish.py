"""EVT-01: an event is written, and its delivery enqueued, iff the change commits."""

import pytest
from django.db import transaction
from django_q.brokers import get_broker

from integrations.outbox.models import OutboxEvent
from integrations.outbox.services import OutsideTransaction, event_publish
from tests.integrations.outbox_helpers import publish
from tests.queue import queued_tasks

pytestmark = pytest.mark.django_db


def test_a_committed_change_leaves_a_pending_event_and_one_enqueued_delivery(django_capture_on_commit_callbacks):
    broker = get_broker()
    broker.purge_queue()  # nothing consumes the test run's queue; start from an empty one
    with django_capture_on_commit_callbacks(execute=True):
        event = publish()

    stored = OutboxEvent.objects.get()
    assert stored.event_id == event.event_id
    assert stored.status == "pending"
    assert stored.attempts == 0
    assert [(task["func"], task["args"]) for task in queued_tasks(broker)] == [
        ("integrations.tasks.outbox_deliver", (str(event.event_id),))
    ]


def test_a_rolled_back_change_leaves_no_event_and_enqueues_nothing(django_capture_on_commit_callbacks):
    broker = get_broker()
    broker.purge_queue()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        event_publish(type="order.created", aggregate="order", aggregate_id="42", payload={})
        raise RuntimeError("the change fails")

    assert not OutboxEvent.objects.exists()
    assert queued_tasks(broker) == []


def test_publishing_outside_a_transaction_is_refused():
    # pytest-django wraps tests in a transaction; leave it to look like autocommit.
    connection = transaction.get_connection()
    in_atomic, connection.in_atomic_block = connection.in_atomic_block, False
    try:
        with pytest.raises(OutsideTransaction):
            event_publish(type="order.created", aggregate="order", aggregate_id="42", payload={})
    finally:
        connection.in_atomic_block = in_atomic


def test_an_unknown_type_is_refused():
    with pytest.raises(ValueError, match="unknown event type"):
        publish(type="order.exploded")


def test_a_malformed_bitrix24_operation_is_refused_when_published():
    with pytest.raises(ValueError, match="b24_task"):
        publish(payload={"b24_task": {"op": "delete", "key": "order:42"}})
