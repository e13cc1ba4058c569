"""Typed Bitrix24 failures.

Every message is built from masked text: the webhook token never appears in
``str(error)``, ``error.url`` or ``error.body``.  ``code`` is the pipeline
error code stored on records (spec STT-56); ``retryable`` drives the retries
(B24-08, B24-09).  Every error follows
:class:`integrations.outbound.OutboundError`, the shape the shared outbound
policy reads (``error_code`` is ``code`` under the policy's name).
"""

from __future__ import annotations


class Bitrix24Error(Exception):
    """Base class; catch this to handle any Bitrix24 failure."""

    code = "b24_error"
    retryable = False
    rate_limited = False

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        status_code: int | None = None,
        error: str | None = None,
        description: str | None = None,
        body: str | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.url = url
        self.status_code = status_code
        self.error = error
        self.description = description
        self.body = body
        self.retry_after = retry_after

    @property
    def error_code(self) -> str:
        return self.code


class Bitrix24TransportError(Bitrix24Error):
    """Connection reset, DNS or TLS failure, timeout: no HTTP answer at all."""

    code = "network_error"
    retryable = True

    def __init__(self, message: str, *, timeout: bool = False, **kwargs):
        super().__init__(message, **kwargs)
        self.code = "timeout" if timeout else "network_error"


class Bitrix24HTTPError(Bitrix24Error):
    """An HTTP answer that is not a usable result (any status, or 200 with ``error``)."""

    def __init__(self, message: str, *, retryable: bool = False, **kwargs):
        super().__init__(message, **kwargs)
        self.retryable = retryable

    @property
    def code(self) -> str:  # type: ignore[override]
        return f"http_{self.status_code}" if self.status_code else "b24_error"


class Bitrix24RateLimited(Bitrix24HTTPError):
    """HTTP 429, ``QUERY_LIMIT_EXCEEDED`` or ``OPERATION_TIME_LIMIT``: retryable, and counted by the limiter (B24-07)."""

    rate_limited = True

    def __init__(self, message: str, **kwargs):
        super().__init__(message, retryable=True, **kwargs)

    @property
    def code(self) -> str:  # type: ignore[override]
        return "b24_query_limit"


class Bitrix24AuthError(Bitrix24HTTPError):
    """401/403, ``expired_token``, ``INVALID_CREDENTIALS``, ``NO_AUTH_FOUND``, ``insufficient_scope``, ``ACCESS_DENIED``."""

    @property
    def code(self) -> str:  # type: ignore[override]
        return "b24_auth_failed"


class Bitrix24MethodNotFound(Bitrix24HTTPError):
    """``ERROR_METHOD_NOT_FOUND``: wrong method name or the scope is not granted to the webhook."""


class Bitrix24PayloadError(Bitrix24Error):
    """A 200 answer whose body is not a JSON object."""

    code = "b24_unexpected_payload"


class Bitrix24Unavailable(Bitrix24Error):
    """The circuit breaker is open (PLAT-64): Bitrix24 failed too often lately, so no request was sent.

    Transient by nature: try again after the circuit's 30 seconds.
    """

    code = "integration.unavailable"
    retryable = True

    @classmethod
    def circuit_open(cls, url: str) -> Bitrix24Unavailable:
        """The error for a request to ``url`` (masked) that the open circuit kept back."""
        return cls(f"Bitrix24 is unavailable (circuit open), not sent: {url}", url=url)
