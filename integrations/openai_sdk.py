"""What the clients of OpenAI-compatible servers share: speech-to-text (``integrations.stt``) and chat (``integrations.llm``).

* :class:`OpenAICompatibleClient` builds the official SDK the same way for
  both: ``max_retries=0`` (the job layer and the outbound policy own
  retries), a short connect timeout, the optional proxy and one TLS context
  per process, and on request one connection pool per process
  (:func:`shared_http_client`); it masks the key in every text it produces.
* :class:`ProviderError` is the typed failure both families derive from, in
  the shape :class:`integrations.outbound.OutboundError` the shared policy
  reads; :class:`StatusError` turns an error status into ``http_<status>``.
* :func:`retry_after_seconds` reads how long an error answer asks us to wait.

Nothing here reads settings.
"""

from __future__ import annotations

import functools
import os
import ssl
from typing import Any

import httpx2
import openai

from integrations.headers import retry_after_header_seconds
from mastermobile.observability.logging import masked_url

# A proxy or host that does not answer should fail fast, not after the whole request timeout.
CONNECT_TIMEOUT_S = 10.0
# How much of a provider's error message is kept in our own messages.
MESSAGE_LIMIT = 300
# STT-06: throttling, conflicts, request timeouts and server errors may pass on their own.
RETRYABLE_STATUSES = frozenset({408, 409, 429})


def status_is_retryable(status_code: int) -> bool:
    return status_code in RETRYABLE_STATUSES or status_code >= 500


class ProviderError(Exception):
    """A failed request to an OpenAI-compatible server; subclasses set ``error_code`` and ``retryable``.

    ``error_code`` is a pipeline code of STT-56 (``http_<status>``,
    ``network_error``, ``timeout``, ``unexpected_error``,
    ``integration.unavailable``…), ``retryable`` says whether the provider
    looks unwell (what the circuit breaker counts), ``rate_limited`` whether
    it asked us to slow down.  ``status_code``, ``retry_after`` (seconds) and
    ``request_id`` come from the answer when there was one.  Messages never
    contain the API key.
    """

    error_code = "unexpected_error"
    retryable = False
    rate_limited = False

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
        request_id: str | None = None,
    ):
        super().__init__(message)
        self.status_code = status_code
        self.retry_after = retry_after
        self.request_id = request_id


class StatusError(ProviderError):
    """Any error status: ``error_code`` is ``http_<status>``, retryable for 408, 409, 429 and 5xx.

    Mixed in before a family's base (``class ChatHTTPError(StatusError, ChatError)``),
    so ``except ChatError`` still catches it.
    """

    def __init__(self, message: str, *, status_code: int, **kwargs: Any):
        super().__init__(message, status_code=status_code, **kwargs)
        self.retryable = status_is_retryable(status_code)

    @property
    def error_code(self) -> str:  # type: ignore[override]
        return f"http_{self.status_code}"


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    """The TLS context every client of this process verifies the server with, built on first use.

    Building one loads the system's CA bundle: about 30 ms of CPU, more than
    all the rest of a transcription job's own work, and a job builds a client
    each.  A configured context is safe to share between clients and threads
    (httpx's advice is to reuse one); ``SSL_CERT_FILE``/``SSL_CERT_DIR`` are
    read when it is built, as for a fresh one.
    """
    return httpx2.create_ssl_context()


def _timeout(timeout_s: float) -> httpx2.Timeout:
    return httpx2.Timeout(timeout_s, connect=min(timeout_s, CONNECT_TIMEOUT_S))


def _http_client(*, proxy_url: str, timeout_s: float) -> httpx2.Client:
    return openai.DefaultHttpx2Client(proxy=proxy_url or None, timeout=_timeout(timeout_s), verify=shared_ssl_context())


@functools.cache
def _shared_http_client(pid: int, proxy_url: str, timeout_s: float) -> httpx2.Client:
    return _http_client(proxy_url=proxy_url, timeout_s=timeout_s)


def shared_http_client(*, proxy_url: str, timeout_s: float) -> httpx2.Client:
    """This process's HTTP client (its connection pool) for ``proxy_url`` and ``timeout_s``, built on first use.

    Clients built one per job then keep their connections alive between jobs:
    no new TCP connection, and against the real API no TLS handshake, through
    the proxy too.  An httpx client is thread-safe.  Keyed by the process id
    as well, so a forked worker never uses its parent's sockets.
    """
    return _shared_http_client(os.getpid(), proxy_url, timeout_s)


class OpenAICompatibleClient:
    """One configured SDK connection to ``base_url``; subclasses add the endpoint they call.

    With ``shared_connections`` the SDK sends through :func:`shared_http_client`
    (same proxy, same timeouts), and :meth:`close` leaves that pool open for the
    next client; otherwise the client has an HTTP client of its own, closed with it.
    """

    path = ""  # the endpoint below base_url, for logs and the audit

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        model: str,
        timeout_s: float,
        proxy_url: str = "",
        shared_connections: bool = False,
    ):
        self.model = model
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.proxy_url = proxy_url
        self.shared_connections = shared_connections
        self._api_key = api_key
        self._sdk = openai.OpenAI(
            api_key=api_key,
            base_url=base_url,
            timeout=_timeout(timeout_s),
            max_retries=0,
            http_client=(
                shared_http_client(proxy_url=proxy_url, timeout_s=timeout_s)
                if shared_connections
                else _http_client(proxy_url=proxy_url, timeout_s=timeout_s)
            ),
        )

    @property
    def endpoint(self) -> str:
        """The URL called, for logs and the audit: the key and a password in the base URL are ``***``."""
        return self._mask(masked_url(self.base_url.rstrip("/") + self.path))

    def unreachable_reason(self, error: openai.APIConnectionError) -> str:
        """``" via proxy …"`` and the transport's failure, for a message about a request that got no answer."""
        via = f" via proxy {masked_url(self.proxy_url)}" if self.proxy_url else ""
        cause = error.__cause__.__class__.__name__ if error.__cause__ else "no answer"
        return f"{via} ({cause})"

    def close(self) -> None:
        # The SDK closes its HTTP client with itself; a shared one stays open for the next client.
        if not self.shared_connections:
            self._sdk.close()

    def __enter__(self) -> OpenAICompatibleClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _mask(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    def _status_detail(self, error: openai.APIStatusError) -> str:
        """The provider's own message of an error answer, key masked and cut to :data:`MESSAGE_LIMIT`."""
        body = error.body
        detail = body.get("message") if isinstance(body, dict) else body
        return self._mask(str(detail or error.message))[:MESSAGE_LIMIT]


def retry_after_seconds(headers: Any) -> float | None:
    """Seconds to wait from ``retry-after-ms`` (OpenAI's) or ``Retry-After`` (seconds or an HTTP date)."""
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    return retry_after_header_seconds(headers.get("retry-after"))
