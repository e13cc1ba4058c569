"""BX-01/BX-04: Bitrix24 task operations from the outbox, without duplicate tasks, retried while the portal is down."""

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.bitrix24.factory import client_from_config
from integrations.outbox.models import Bitrix24TaskLink
from integrations.outbox.services import event_deliver, events_deliver_due
from integrations.outbox.subscribers import Bitrix24TaskSubscriber
from integrations.signals import bitrix24_task_linked
from tests.integrations.outbox_helpers import publish, webhook_subscribers

pytestmark = pytest.mark.django_db

ADD = {"op": "add", "key": "order:42", "fields": {"TITLE": "Заказ 42", "RESPONSIBLE_ID": 7, "DEADLINE": "2025-06-01"}}


@pytest.fixture
def b24(b24_config):
    return Bitrix24TaskSubscriber(lambda: client_from_config(b24_config, max_attempts=1))


def test_an_add_creates_the_task_and_links_it_to_the_key(fake_b24, b24):
    event = publish(payload={"b24_task": ADD})

    status = event_deliver(event.event_id, subscribers=[b24])

    assert status == "sent"
    [task] = fake_b24.tasks.values()
    assert task["TITLE"] == "Заказ 42"
    assert task["XML_ID"] == "order:42"
    assert Bitrix24TaskLink.objects.get(key="order:42").task_id == task["ID"]


def test_linking_a_task_sends_the_signal_with_key_and_task_id(fake_b24, b24, django_capture_on_commit_callbacks):
    received = []

    def listener(sender, **kwargs):
        received.append((kwargs["key"], kwargs["task_id"]))

    bitrix24_task_linked.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            event_deliver(publish(payload={"b24_task": ADD}).event_id, subscribers=[b24])
    finally:
        bitrix24_task_linked.disconnect(listener)

    [task_id] = fake_b24.tasks
    assert received == [("order:42", task_id)]


def test_a_retry_after_a_failure_following_a_successful_add_creates_no_second_task(
    fake_b24, b24, receiver, subscription
):
    receiver.fail_next("500")  # Bitrix24 accepts the add, the webhook fails: the event is retried
    event = publish(payload={"b24_task": ADD})
    now = timezone.now()
    subscribers = [b24, *webhook_subscribers(subscription)]

    event_deliver(event.event_id, now=now, subscribers=subscribers, rand=lambda: 0.5)
    events_deliver_due(now=now + timedelta(minutes=2), subscribers=subscribers)

    event.refresh_from_db()
    assert event.status == "sent"
    assert len(fake_b24.tasks) == 1
    assert fake_b24.count(path_contains="tasks.task.add") == 1


def test_a_task_created_before_a_crash_is_found_by_its_external_id_not_created_again(fake_b24, b24, b24_config):
    # Bitrix24 made the task, then the worker died before the link committed.
    existing = client_from_config(b24_config).task_add({"TITLE": "Заказ 42", "XML_ID": "order:42"})
    event = publish(payload={"b24_task": ADD})

    event_deliver(event.event_id, subscribers=[b24])

    assert list(fake_b24.tasks) == [existing]
    assert Bitrix24TaskLink.objects.get(key="order:42").task_id == existing


def test_an_update_reaches_the_linked_task(fake_b24, b24):
    event_deliver(publish(payload={"b24_task": ADD}).event_id, subscribers=[b24])
    update = {"op": "update", "key": "order:42", "fields": {"TITLE": "Заказ 42 (в пути)"}}

    status = event_deliver(
        publish(type="order.status_changed", payload={"b24_task": update}).event_id, subscribers=[b24]
    )

    assert status == "sent"
    [task] = fake_b24.tasks.values()
    assert task["TITLE"] == "Заказ 42 (в пути)"


def test_a_complete_closes_the_linked_task(fake_b24, b24):
    event_deliver(publish(payload={"b24_task": ADD}).event_id, subscribers=[b24])
    complete = {"op": "complete", "key": "order:42", "fields": {}}

    event_deliver(publish(type="order.status_changed", payload={"b24_task": complete}).event_id, subscribers=[b24])

    [task] = fake_b24.tasks.values()
    assert task["STATUS"] == "5"


def test_an_update_before_the_task_exists_waits_instead_of_failing(fake_b24, b24):
    update = {"op": "update", "key": "order:42", "fields": {"TITLE": "x"}}
    event = publish(type="order.status_changed", payload={"b24_task": update})

    status = event_deliver(event.event_id, subscribers=[b24])

    event.refresh_from_db()
    assert status == "pending"
    assert "no Bitrix24 task linked" in event.last_error
    assert fake_b24.count(path_contains="tasks.task.update") == 0


def test_bitrix24_down_leaves_the_event_pending_with_a_next_attempt(fake_b24, b24):
    fake_b24.fail_next("500", times=3, match="tasks.task")
    event = publish(payload={"b24_task": ADD})
    now = timezone.now()

    status = event_deliver(event.event_id, now=now, subscribers=[b24], rand=lambda: 0.5)

    event.refresh_from_db()
    assert status == "pending"
    assert event.next_attempt_at == now + timedelta(minutes=1)
    assert fake_b24.tasks == {}
    assert not Bitrix24TaskLink.objects.exists()


def test_an_event_without_a_bitrix24_operation_is_not_sent_to_bitrix24(fake_b24, b24):
    status = event_deliver(publish().event_id, subscribers=[b24])

    assert status == "sent"
    assert fake_b24.count(path_contains="tasks.task") == 0
