"""No secret on Django's debug page or in the configuration's repr (issue 8: secrets never rendered)."""

from __future__ import annotations

import dataclasses
import pprint
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import include, path

from mastermobile.config import load_config

JWT_SECRET = "jwt-secret-4b1d9e77c0a54f0e9d1c2b3a4f5e6d7c"
SECRET_KEY = "django-secret-key-8f7e6d5c4b3a29180716253443526170"
WEBHOOK_TOKEN = "b24-webhook-token-q8w7e6r5"
OPENAI_KEY = "sk-openai-key-z9y8x7w6v5u4"
S3_KEY_ID = "AKIAS3KEYID77665544"
S3_SECRET = "s3-secret-access-key-m1n2b3v4"
DB_PASSWORD = "db-password-p0o9i8u7"
PROXY_PASSWORD = "proxy-password-l1k2j3h4"
ALL_SECRETS = (JWT_SECRET, SECRET_KEY, WEBHOOK_TOKEN, OPENAI_KEY, S3_KEY_ID, S3_SECRET, DB_PASSWORD, PROXY_PASSWORD)

ENVIRONMENT: dict[str, Any] = {
    "JWT_SECRET": JWT_SECRET,
    "DJANGO_SECRET_KEY": SECRET_KEY,
    "B24_WEBHOOK_TOKEN": WEBHOOK_TOKEN,
    "OPENAI_API_KEY": OPENAI_KEY,
    "S3_ACCESS_KEY_ID": S3_KEY_ID,
    "S3_SECRET_ACCESS_KEY": S3_SECRET,
    "DATABASE_URL": f"postgres://mastermobile:{DB_PASSWORD}@db.internal:5432/mastermobile",
    "CHATGPT_PROXY_URL": f"http://proxyuser:{PROXY_PASSWORD}@proxy.internal:8080",
}


def crashing_view(request):
    """Fails the way a Bitrix24 call does: the exception message carries the webhook URL."""
    config = settings.APP_CONFIG
    secret = config.jwt_secret
    webhook = f"{config.b24_base_url}/{config.b24_webhook_user_id}/{config.b24_webhook_token}/voximplant.statistic.get"
    raise ConnectionError(f"Max retries exceeded with url: {webhook} (signing with {len(secret)} bytes)")


urlpatterns = [path("crash", crashing_view), path("", include("mastermobile.urls"))]


@pytest.fixture
def configured_secrets(settings):
    """The running configuration holds real-looking secrets; DEBUG is on, as it is locally by default."""
    settings.APP_CONFIG = dataclasses.replace(
        load_config(ENVIRONMENT), jwt_secret=JWT_SECRET, database_url=ENVIRONMENT["DATABASE_URL"]
    )
    settings.SECRET_KEY = SECRET_KEY
    settings.DEBUG = True


def assert_no_secret_in(text: str) -> None:
    leaked = [secret for secret in ALL_SECRETS if secret in text]
    assert leaked == []


@pytest.mark.parametrize("render", [repr, str, pprint.pformat])
def test_the_configuration_renders_every_secret_as_stars(render):
    config = load_config(ENVIRONMENT)

    rendered = render(config)

    assert_no_secret_in(rendered)
    assert "jwt_secret='***'" in rendered.replace("\n", "")
    assert "postgres://mastermobile:***@db.internal:5432/mastermobile" in rendered


def test_the_configuration_still_shows_what_is_not_secret():
    config = load_config({**ENVIRONMENT, "APP_PORT": "8123"})

    assert "app_port=8123" in repr(config)
    assert "b24_base_url='https://example.bitrix24.ru/rest'" in repr(config)


@pytest.mark.django_db
@pytest.mark.urls("tests.platform.test_secrets_on_error_pages")
@pytest.mark.parametrize("accept", ["text/html", "text/plain"])
def test_the_debug_page_of_a_crashing_view_shows_no_secret(configured_secrets, accept):
    client = Client(raise_request_exception=False)

    response = client.get(
        "/crash?next=1",
        HTTP_ACCEPT=accept,
        HTTP_AUTHORIZATION=f"Bearer {JWT_SECRET}",
        # The development server copies the process environment into every request.
        **ENVIRONMENT,
    )

    page = response.content.decode()
    assert response.status_code == 500
    assert "ConnectionError" in page and "APP_CONFIG" in page  # Django's technical page, settings included
    assert_no_secret_in(page)
