"""EVT-04: the outbox is visible in the Russian admin, and dead events can be requeued from it."""

import pytest
from django.utils import translation

from integrations.outbox.models import InboundWebhookEvent, OutboxEvent, WebhookSubscription
from tests.integrations.outbox_helpers import publish

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def russian(admin_client):
    admin_client.defaults["HTTP_ACCEPT_LANGUAGE"] = "ru"
    with translation.override("ru"):
        yield


def test_the_events_list_shows_russian_labels_and_the_event(admin_client):
    publish(aggregate_id="A-77")

    page = admin_client.get("/admin/integrations/outboxevent/?q=A-77").content.decode()

    assert "Интеграционные события" in page
    assert "order:A-77" in page
    assert "Поставить в очередь снова" in page


def test_the_event_page_shows_the_payload_pretty_printed(admin_client):
    event = publish(payload={"id": 42, "title": "Заказ"})

    page = admin_client.get(f"/admin/integrations/outboxevent/{event.pk}/change/").content.decode()

    assert "Интеграционное событие" in page
    assert "&quot;title&quot;: &quot;Заказ&quot;" in page or '"title": "Заказ"' in page


def test_the_requeue_action_puts_a_dead_event_back_in_the_queue(admin_client):
    event = publish()
    OutboxEvent.objects.filter(pk=event.pk).update(status="dead", attempts=8)

    response = admin_client.post(
        "/admin/integrations/outboxevent/", {"action": "requeue", "_selected_action": [str(event.pk)]}, follow=True
    )

    event.refresh_from_db()
    assert response.status_code == 200
    assert event.status == "pending"
    assert event.attempts == 0


def test_the_subscriptions_list_masks_the_secret(admin_client):
    WebhookSubscription.objects.create(name="erp", url="https://erp.example/hook", secret="very-secret-value")

    page = admin_client.get("/admin/integrations/webhooksubscription/").content.decode()

    assert "Подписки на вебхуки" in page
    assert "very-secret-value" not in page


def test_the_subscription_page_never_renders_the_secret(admin_client):
    subscription = WebhookSubscription.objects.create(
        name="erp", url="https://erp.example/hook", secret="very-secret-value"
    )

    page = admin_client.get(f"/admin/integrations/webhooksubscription/{subscription.pk}/change/").content.decode()

    assert "very-secret-value" not in page


def test_saving_a_subscription_without_a_new_secret_keeps_the_old_one(admin_client):
    subscription = WebhookSubscription.objects.create(
        name="erp", url="https://erp.example/hook", secret="very-secret-value"
    )

    admin_client.post(
        f"/admin/integrations/webhooksubscription/{subscription.pk}/change/",
        {"name": "erp", "url": "https://erp.example/hook2", "secret": "", "is_active": "on"},
    )

    subscription.refresh_from_db()
    assert subscription.url == "https://erp.example/hook2"
    assert subscription.secret == "very-secret-value"


def test_the_inbound_webhooks_pages_render(admin_client):
    row = InboundWebhookEvent.objects.create(event_id="evt-1", payload={"event_id": "evt-1"})

    listing = admin_client.get("/admin/integrations/inboundwebhookevent/")
    change = admin_client.get(f"/admin/integrations/inboundwebhookevent/{row.pk}/change/")

    assert "Входящие вебхуки" in listing.content.decode()
    assert change.status_code == 200
