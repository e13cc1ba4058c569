"""EVT-03/EVT-04: signed webhooks, retries on the ladder, dead after 24 hours, requeue."""

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.outbox.models import OutboxEvent, WebhookSubscription
from integrations.outbox.services import LADDER, event_deliver, event_requeue, events_deliver_due, retry_delay
from integrations.outbox.signing import signature
from tests.integrations.outbox_helpers import publish, sample, webhook_subscribers

pytestmark = pytest.mark.django_db


def test_a_healthy_subscriber_receives_the_event_signed_with_its_secret(receiver, subscription):
    event = publish()

    status = event_deliver(event.event_id, subscribers=webhook_subscribers(subscription))

    assert status == "sent"
    [received] = receiver.events
    assert received.body["event_id"] == str(event.event_id)
    assert received.body["type"] == "order.created"
    assert received.body["aggregate_id"] == "42"
    assert received.headers["X-Event-Id"] == str(event.event_id)
    assert received.headers["X-Timestamp"].isdigit()
    event.refresh_from_db()
    assert event.sent_at is not None
    assert event.delivered_to == [f"webhook:{subscription.pk}"]


def test_the_signature_is_the_hmac_sha256_of_the_exact_body_sent(receiver, subscription):
    event_deliver(publish().event_id, subscribers=webhook_subscribers(subscription))

    [received] = receiver.events
    assert received.headers["X-Webhook-Signature"] == signature(receiver.secret, received.raw)


def test_a_receiver_that_refuses_the_signature_leaves_the_event_pending(receiver, subscription):
    subscription.secret = "not-the-receivers-secret"
    subscription.save()
    event = publish()

    status = event_deliver(event.event_id, subscribers=webhook_subscribers(subscription))

    assert status == "pending"
    assert len(receiver.rejected) == 1
    assert receiver.events == []


def test_a_subscription_for_other_types_is_not_sent_the_event(receiver, subscription):
    subscription.event_types = ["return.created"]
    subscription.save()
    event = publish()

    status = event_deliver(event.event_id, subscribers=webhook_subscribers(subscription))

    assert status == "sent"
    assert receiver.events == []


def test_a_failing_subscriber_leaves_the_event_pending_for_the_first_rung(receiver, subscription):
    receiver.fail_next("500")
    event = publish()
    now = timezone.now()

    status = event_deliver(event.event_id, now=now, subscribers=webhook_subscribers(subscription), rand=lambda: 0.5)

    event.refresh_from_db()
    assert status == "pending"
    assert event.attempts == 1
    assert event.next_attempt_at == now + LADDER[0]
    assert "500" in event.last_error


def test_the_event_is_delivered_once_the_subscriber_recovers(receiver, subscription):
    receiver.fail_next("500", times=2)
    event = publish()
    now = timezone.now()
    subscribers = webhook_subscribers(subscription)

    event_deliver(event.event_id, now=now, subscribers=subscribers, rand=lambda: 0.5)
    events_deliver_due(now=now + timedelta(minutes=1), subscribers=subscribers, rand=lambda: 0.5)
    events_deliver_due(now=now + timedelta(minutes=7), subscribers=subscribers, rand=lambda: 0.5)

    event.refresh_from_db()
    assert event.status == "sent"
    assert event.attempts == 3
    assert receiver.event_ids() == [str(event.event_id)]


def test_the_first_attempt_time_is_the_first_claim_and_survives_retries_and_requeue(receiver, subscription):
    receiver.fail_next("500")
    event = publish()
    assert event.first_attempt_at is None
    now = timezone.now()
    subscribers = webhook_subscribers(subscription)

    event_deliver(event.event_id, now=now, subscribers=subscribers, rand=lambda: 0.5)
    events_deliver_due(now=now + timedelta(minutes=1), subscribers=subscribers, rand=lambda: 0.5)
    event.refresh_from_db()
    assert (event.status, event.attempts) == ("sent", 2)
    assert event.first_attempt_at == now
    assert event.sent_at == now + timedelta(minutes=1)

    OutboxEvent.objects.filter(pk=event.pk).update(status="dead")
    event_requeue(event_id=event.event_id, now=now + timedelta(hours=1))
    event_deliver(event.event_id, now=now + timedelta(hours=1), subscribers=subscribers)
    event.refresh_from_db()
    assert event.first_attempt_at == now


def test_a_slow_subscriber_times_out_and_is_retried(receiver, subscription):
    receiver.fail_next("slow", seconds=1.5)
    event = publish()

    status = event_deliver(event.event_id, subscribers=webhook_subscribers(subscription))

    assert status == "pending"
    event.refresh_from_db()
    assert "timed out" in event.last_error


def test_a_retry_does_not_resend_to_subscribers_that_already_accepted(receiver, subscription):
    other = WebhookSubscription.objects.create(name="crm", url=receiver.url + "?to=crm", secret=receiver.secret)
    receiver.fail_next("500")  # the first subscription accepts, the second fails
    event = publish()
    now = timezone.now()
    subscribers = webhook_subscribers(other, subscription)

    event_deliver(event.event_id, now=now, subscribers=subscribers, rand=lambda: 0.5)
    events_deliver_due(now=now + timedelta(minutes=2), subscribers=subscribers, rand=lambda: 0.5)

    event.refresh_from_db()
    assert event.status == "sent"
    assert receiver.event_ids() == [str(event.event_id), str(event.event_id)]
    assert receiver.requests == 3


def test_the_jitter_stays_within_ten_percent_of_the_rung():
    assert retry_delay(2, rand=lambda: 0.0) == LADDER[1] * 0.9
    assert retry_delay(2, rand=lambda: 0.999999) < LADDER[1] * 1.1
    assert retry_delay(99, rand=lambda: 0.5) == LADDER[-1]


def test_an_event_still_failing_after_24_hours_is_dead_and_counted(receiver, subscription):
    receiver.fail_next("500", times=100)
    event = publish(type="return.rejected")
    subscribers = webhook_subscribers(subscription)
    before = sample("events_dlq_total", event_type="return.rejected")
    now = event.created_at

    for _ in range(12):
        event.refresh_from_db()
        if event.status == "dead":
            break
        now = max(now, event.next_attempt_at)
        events_deliver_due(now=now, subscribers=subscribers, rand=lambda: 0.5)

    event.refresh_from_db()
    assert event.status == "dead"
    assert now >= event.created_at + timedelta(hours=24)
    assert event.attempts == 8  # six rungs, the wait capped at the 24-hour mark, then the last attempt
    assert sample("events_dlq_total", event_type="return.rejected") == before + 1


def test_a_requeued_dead_event_is_due_now_with_its_attempts_reset(receiver, subscription):
    event = publish()
    OutboxEvent.objects.filter(pk=event.pk).update(status="dead", attempts=8)
    now = timezone.now()

    event_requeue(event_id=event.event_id, now=now)
    status = event_deliver(event.event_id, now=now, subscribers=webhook_subscribers(subscription))

    assert status == "sent"
    event.refresh_from_db()
    assert event.attempts == 1


def test_a_sent_event_cannot_be_requeued(subscription):
    event = publish()
    event_deliver(event.event_id, subscribers=[])

    with pytest.raises(Exception, match="already sent"):
        event_requeue(event_id=event.event_id)


def test_delivery_outcomes_are_counted_per_subscriber_kind(receiver, subscription):
    before = sample("events_delivered_total", subscriber="webhook", result="success")
    event_deliver(publish().event_id, subscribers=webhook_subscribers(subscription))

    assert sample("events_delivered_total", subscriber="webhook", result="success") == before + 1
