from __future__ import annotations

from collections.abc import Iterator

import pytest

from integrations.outbox.models import WebhookSubscription
from tests.fakes.openai import FakeOpenAI
from tests.fakes.webhook_receiver import WebhookReceiver


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """The fake OpenAI API (transcriptions, chat completions) on a free port."""
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    """A webhook receiver checking signatures with the secret of :func:`subscription`."""
    with WebhookReceiver(secret="receiver-secret-0123456789") as fake:
        yield fake


@pytest.fixture
def subscription(db, receiver: WebhookReceiver) -> WebhookSubscription:
    return WebhookSubscription.objects.create(name="erp", url=receiver.url, secret=receiver.secret)
