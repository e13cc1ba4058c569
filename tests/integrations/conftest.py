from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from django.conf import settings as django_settings

from integrations.outbox.models import WebhookSubscription
from tests.fakes.bitrix24 import FakeBitrix24
from tests.fakes.openai import FakeOpenAI
from tests.fakes.webhook_receiver import WebhookReceiver


@pytest.fixture
def fake_b24() -> Iterator[FakeBitrix24]:
    """A fake portal with 120 calls and no rate limit of its own (tests that need one build their own)."""
    with FakeBitrix24(calls=120, rate=0) as fake:
        yield fake


@pytest.fixture
def b24_config(fake_b24: FakeBitrix24, settings):
    """Settings pointing at the fake portal: no throttling and no backoff sleeps."""
    config = dataclasses.replace(
        django_settings.APP_CONFIG,
        b24_base_url=fake_b24.base_url + "/rest",
        b24_webhook_user_id=fake_b24.user_id,
        b24_webhook_token=fake_b24.token,
        b24_rate_limit_rps=0,
        b24_backoff_seconds=0,
        b24_max_attempts=5,
        request_timeout_s=5,
    )
    settings.APP_CONFIG = config
    return config


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
