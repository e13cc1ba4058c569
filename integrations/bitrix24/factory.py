"""Building the Bitrix24 client from explicit settings; the only place that knows :class:`AppConfig`."""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from integrations.bitrix24.client import Bitrix24Client, normalise_base_url, outbound_policy
from integrations.bitrix24.ratelimit import RateLimiter
from integrations.circuitbreaker import CircuitBreaker

if TYPE_CHECKING:
    from mastermobile.config import AppConfig


# Overrides that configure the outbound policy rather than the client itself.
POLICY_OPTIONS = ("breaker", "backoff_seconds", "max_attempts", "correlation_id", "audit", "sleep")


def client_from_config(config: AppConfig, **overrides: Any) -> Bitrix24Client:
    """The one factory: a client built from an explicit :class:`AppConfig`.

    ``overrides`` (``correlation_id``, ``sleep``, ``session``, ``audit``,
    ``limiter``, ``download_limiter``, ``breaker``, ``max_attempts``…) replace
    what the configuration says, for the client or its outbound policies.  The
    rate limits and the circuit breaker are keyed by portal host, so every
    client of one portal, in any process, shares them.  REST methods and
    recording downloads have a limiter each (``B24_RATE_LIMIT_RPS``,
    ``B24_DOWNLOAD_RATE_RPS``) and share the breaker: a portal that fails is
    unwell for both.
    """
    base_url = normalise_base_url(config.b24_base_url)
    key = f"b24:{urlsplit(base_url).netloc}"
    sleep = overrides.get("sleep", time.sleep)
    policy_options: dict[str, Any] = {
        "breaker": CircuitBreaker(key=key, system="b24"),
        "backoff_seconds": config.b24_backoff_seconds,
        "max_attempts": config.b24_max_attempts,
        "sleep": sleep,
    }
    policy_options.update({name: overrides.pop(name) for name in POLICY_OPTIONS if name in overrides})
    limiter = overrides.pop(
        "limiter",
        RateLimiter(
            key=key,
            rate=config.b24_rate_limit_rps,
            low_rate_mode=config.export_low_rate_mode,
            sleep=sleep,
        ),
    )
    download_limiter = overrides.pop(
        "download_limiter",
        RateLimiter(
            key=f"b24-download:{urlsplit(base_url).netloc}",
            rate=config.b24_download_rate_rps,
            low_rate_mode=config.export_low_rate_mode,
            sleep=sleep,
        ),
    )
    options: dict[str, Any] = {
        "base_url": base_url,
        "user_id": config.b24_webhook_user_id,
        "token": config.b24_webhook_token,
        "policy": outbound_policy(limiter=limiter, **policy_options),
        "download_policy": outbound_policy(limiter=download_limiter, **policy_options),
        "timeout": config.request_timeout_s,
        "use_batch": config.b24_use_batch,
    }
    options.update(overrides)
    return Bitrix24Client(**options)


def list_calls(date_from: datetime, date_to: datetime, *, config: AppConfig | None = None) -> list[dict[str, Any]]:
    """Public entry point: every Bitrix24 call in ``[date_from, date_to]``, read with the project settings."""
    if config is None:
        from django.conf import settings

        config = settings.APP_CONFIG
    return client_from_config(config).list_calls(date_from, date_to)
