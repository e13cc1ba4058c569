"""Bitrix24 REST integration: ``list_calls(date_from, date_to)`` is the public entry point."""

from integrations.bitrix24.client import Bitrix24Client, RequestContext, normalise_base_url
from integrations.bitrix24.errors import (
    Bitrix24AuthError,
    Bitrix24Error,
    Bitrix24HTTPError,
    Bitrix24MethodNotFound,
    Bitrix24PayloadError,
    Bitrix24RateLimited,
    Bitrix24TransportError,
    Bitrix24Unavailable,
)
from integrations.bitrix24.factory import client_from_config, list_calls
from integrations.bitrix24.responses import CallPage, recording_url_of

__all__ = [
    "Bitrix24AuthError",
    "Bitrix24Client",
    "Bitrix24Error",
    "Bitrix24HTTPError",
    "Bitrix24MethodNotFound",
    "Bitrix24PayloadError",
    "Bitrix24RateLimited",
    "Bitrix24TransportError",
    "Bitrix24Unavailable",
    "CallPage",
    "RequestContext",
    "client_from_config",
    "list_calls",
    "normalise_base_url",
    "recording_url_of",
]
