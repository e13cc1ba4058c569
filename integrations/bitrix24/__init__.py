"""Bitrix24 REST integration: ``list_calls(date_from, date_to)`` is the public entry point."""

from integrations.bitrix24.client import (
    Bitrix24Client,
    CallPage,
    RequestContext,
    client_from_config,
    list_calls,
    normalise_base_url,
)
from integrations.bitrix24.errors import (
    Bitrix24AuthError,
    Bitrix24Error,
    Bitrix24HTTPError,
    Bitrix24MethodNotFound,
    Bitrix24PayloadError,
    Bitrix24RateLimited,
    Bitrix24TransportError,
)

__all__ = [
    "Bitrix24AuthError",
    "Bitrix24Client",
    "Bitrix24Error",
    "Bitrix24HTTPError",
    "Bitrix24MethodNotFound",
    "Bitrix24PayloadError",
    "Bitrix24RateLimited",
    "Bitrix24TransportError",
    "CallPage",
    "RequestContext",
    "client_from_config",
    "list_calls",
    "normalise_base_url",
]
