"""Typed chat-completion failures.

They follow :class:`integrations.outbound.OutboundError`, the shape the
shared outbound policy reads: ``error_code`` (the pipeline codes of STT-56,
shared with the other clients: ``http_<status>``, ``network_error``,
``timeout``, ``unexpected_error``, ``integration.unavailable``), ``retryable``
(whether the provider looks unwell, which is what the circuit breaker counts;
nobody retries a summary), ``status_code``, ``retry_after`` and
``request_id``.  Messages never contain the API key.
"""

from __future__ import annotations

from integrations.openai_sdk import ProviderError, StatusError


class ChatError(ProviderError):
    """Base class: catch this to handle any chat-completion failure."""


class ChatDisabled(ChatError):
    """No ``OPENAI_API_KEY``: nothing may be sent."""

    error_code = "llm_disabled"


class ChatUnreachable(ChatError):
    """Connection refused or reset, DNS, TLS or proxy failure: no HTTP answer."""

    error_code = "network_error"
    retryable = True


class ChatTimeout(ChatError):
    """No answer within the request timeout."""

    error_code = "timeout"
    retryable = True


class ChatUnavailable(ChatError):
    """The chat circuit is open (PLAT-64): the provider failed too often lately, so nothing was sent."""

    error_code = "integration.unavailable"
    retryable = True

    @classmethod
    def circuit_open(cls, endpoint: str) -> ChatUnavailable:
        """The error for a request to ``endpoint`` (masked) that the open circuit kept back."""
        return cls(f"chat model is unavailable (circuit open), not sent: {endpoint}")


class ChatUnexpectedAnswer(ChatError):
    """A success status whose body is not a usable chat completion (a proxy's page, an empty message)."""

    error_code = "unexpected_error"
    retryable = True


class ChatHTTPError(StatusError, ChatError):
    """Any error status; ``error_code`` is ``http_<status>``, retryable for 408, 409, 429 and 5xx."""


class ChatRateLimited(ChatHTTPError):
    """429: the provider's rate limit or quota."""

    rate_limited = True
