"""Typed speech-to-text failures (spec 03, STT-06 and STT-56).

Every error carries the pipeline ``error_code`` stored on the job or record
and a ``retryable`` flag for the job layer, which owns retries (the SDK is
built with ``max_retries=0``).  ``status_code``, ``retry_after`` (seconds, from
``Retry-After``/``retry-after-ms``) and ``request_id`` come from the
provider's answer when there was one.  Messages never contain the API key.
Every error follows :class:`integrations.outbound.OutboundError`, the shape
the shared outbound policy reads.
"""

from __future__ import annotations

from integrations.openai_sdk import ProviderError, StatusError


class TranscriptionError(ProviderError):
    """Base class: catch this to handle any transcription failure."""


class TranscriptionDisabled(TranscriptionError):
    """STT-01: no key or ``STT_MAX_FILE_MINUTES=0``; nothing may be sent."""

    error_code = "stt_disabled"


class AudioConversionFailed(TranscriptionError):
    """The recording could not be opened or decoded; sending it again will not help."""

    error_code = "audio_conversion_failed"


class DurationLimitExceeded(TranscriptionError):
    """STT-02: the recording is longer than ``STT_MAX_FILE_MINUTES``; nothing was sent."""

    error_code = "duration_limit_exceeded"


class ProviderUnreachable(TranscriptionError):
    """Connection refused or reset, DNS, TLS or proxy failure: no HTTP answer."""

    error_code = "network_error"
    retryable = True


class ProviderTimeout(TranscriptionError):
    """No answer within ``STT_REQUEST_TIMEOUT_S``."""

    error_code = "transcription_timeout"
    retryable = True


class ProviderUnavailable(TranscriptionError):
    """The circuit breaker is open (PLAT-64): the provider failed too often lately, so nothing was sent.

    Transient by nature: the job tries again after its next delay.  The code
    is the one every integration uses for an open circuit.
    """

    error_code = "integration.unavailable"
    retryable = True

    @classmethod
    def circuit_open(cls, endpoint: str) -> ProviderUnavailable:
        """The error for a request to ``endpoint`` (masked) that the open circuit kept back."""
        return cls(f"STT provider is unavailable (circuit open), not sent: {endpoint}")


class UnexpectedAnswer(TranscriptionError):
    """A success status whose body is not the transcription asked for (often a proxy's page)."""

    error_code = "unexpected_error"
    retryable = True


class ProviderHTTPError(StatusError, TranscriptionError):
    """Any error status; ``error_code`` is ``http_<status>``, retryable for 408, 409, 429 and 5xx."""


class ProviderRateLimited(ProviderHTTPError):
    """429: retry after ``retry_after`` seconds when the provider said so."""

    rate_limited = True


class FileTooLarge(ProviderHTTPError):
    """413 even after chunking; the message ends with ``STT_ERROR_HINT_413``."""

    @property
    def error_code(self) -> str:  # type: ignore[override]
        return "file_too_large"


class UnsupportedFormat(ProviderHTTPError):
    """415 or 422: the provider did not recognise the audio; the message ends with ``STT_ERROR_HINT_422``."""

    @property
    def error_code(self) -> str:  # type: ignore[override]
        return "unsupported_format"
