"""The outbound webhook client: one signed POST per call, through the shared outbound policy (system ``webhook``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from urllib.parse import urlsplit

import requests

from integrations.circuitbreaker import CircuitBreaker
from integrations.outbound import OutboundPolicy

logger = logging.getLogger(__name__)


class WebhookError(Exception):
    """A delivery a subscriber did not accept; follows :class:`integrations.outbound.OutboundError`."""

    rate_limited = False

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str = "webhook_error",
        retryable: bool = True,
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.retryable = retryable
        self.retry_after = retry_after

    @property
    def error_code(self) -> str:
        return self.code

    @classmethod
    def circuit_open(cls, url: str) -> WebhookError:
        return cls(f"Webhook receiver is unavailable (circuit open), not sent: {url}", code="integration.unavailable")


def webhook_policy(url: str) -> OutboundPolicy:
    """One attempt per delivery (the outbox ladder retries), a circuit breaker per receiving host."""
    host = urlsplit(url).netloc
    return OutboundPolicy(
        system="webhook",
        breaker=CircuitBreaker(key=f"webhook:{host}", system="webhook"),
        errors=WebhookError,
        unavailable=WebhookError.circuit_open,
        max_attempts=1,
        logger=logger,
    )


class WebhookClient:
    """POSTs a prepared body with its headers; a 2xx answer is success, anything else a :class:`WebhookError`."""

    def __init__(self, *, timeout: float, session: requests.Session | None = None):
        self.timeout = timeout
        self.session = session or requests.Session()

    def post(self, url: str, body: bytes, headers: Mapping[str, str], *, resource_ref: str | None = None) -> None:
        # The query string may carry a receiver's token: the audit row and logs keep only the path.
        parts = urlsplit(url)
        endpoint = f"POST {parts.scheme}://{parts.netloc}{parts.path}"
        webhook_policy(url).call(
            lambda: self._attempt(url, endpoint, body, headers),
            endpoint=endpoint,
            event="outbox.webhook",
            retry_stage="deliver",
            resource_ref=resource_ref,
        )

    def _attempt(self, url: str, endpoint: str, body: bytes, headers: Mapping[str, str]) -> None:
        try:
            response = self.session.post(url, data=body, headers=dict(headers), timeout=(self.timeout, self.timeout))
        except requests.Timeout:
            error = WebhookError(f"Webhook timed out: {endpoint}", code="timeout")
        except requests.RequestException as exc:
            error = WebhookError(f"Webhook failed ({exc.__class__.__name__}): {endpoint}", code="network_error")
        else:
            with response:
                if 200 <= response.status_code < 300:
                    return
                raise WebhookError(
                    f"Webhook answered {response.status_code}: {endpoint}",
                    status_code=response.status_code,
                    code=f"http_{response.status_code}",
                    retryable=response.status_code >= 500 or response.status_code in (408, 429),
                )
        raise error
