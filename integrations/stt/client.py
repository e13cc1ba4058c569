"""Speech-to-text through the official ``openai`` SDK: OpenAI or any compatible server (STT-03).

:class:`TranscriptionClient` builds one ``POST <base_url>/audio/transcriptions``
per audio file and parses the answer into a :class:`ChunkTranscript`.  It does
not retry: the SDK is built with ``max_retries=0`` and every failure becomes a
typed :class:`~integrations.stt.errors.TranscriptionError` whose ``retryable``
flag and ``retry_after`` the job layer acts on, so retries are not stacked.

It knows nothing of the circuit breaker, the failure metric or the
integration log: :class:`~integrations.stt.transcriber.Transcriber` puts it
behind the shared outbound policy, and that is what
:func:`integrations.stt.factory.client_from_config` hands out; nothing here
reads settings.
"""

from __future__ import annotations

import functools
import logging
import mimetypes
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import httpx2
import openai

from integrations.stt.errors import (
    FileTooLarge,
    ProviderHTTPError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnreachable,
    TranscriptionError,
    UnexpectedAnswer,
    UnsupportedFormat,
)
from integrations.stt.languages import iso_639_1
from mastermobile.observability.logging import masked_url

logger = logging.getLogger(__name__)

# OpenAI refuses bigger uploads whatever STT_MAX_FILE_SIZE_MB says.
MAX_UPLOAD_BYTES = 25 * 1024 * 1024
# OpenAI's gpt-* transcription models answer json or text only; Whisper and compatible servers do verbose_json.
JSON_ONLY_MODEL_PREFIXES = ("gpt-",)
# A proxy or host that does not answer should fail fast, not after the whole request timeout.
CONNECT_TIMEOUT_S = 10.0
MESSAGE_LIMIT = 300


@dataclass(frozen=True)
class TranscribedSegment:
    """A stretch of text with its times in seconds from the start of the uploaded file."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class ChunkTranscript:
    """The provider's answer for one file.  ``language`` is ISO 639-1; None when nothing came back."""

    text: str
    language: str | None
    duration_seconds: float | None
    segments: tuple[TranscribedSegment, ...]
    response_format: str
    request_id: str | None


class ChunkTranscriber(Protocol):
    """What :func:`~integrations.stt.recording.transcribe_recording` needs: this client or a wrapper of it."""

    model: str

    def transcribe(self, audio: bytes, *, filename: str, language: str | None = None) -> ChunkTranscript: ...


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


def response_format_for(model: str) -> str:
    return "json" if model.startswith(JSON_ONLY_MODEL_PREFIXES) else "verbose_json"


class TranscriptionClient:
    """One configured connection to a transcription endpoint."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        model: str,
        timeout_s: float,
        proxy_url: str = "",
        hint_413: str = "",
        hint_422: str = "",
    ):
        self.model = model
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.proxy_url = proxy_url
        self.hint_413 = hint_413
        self.hint_422 = hint_422
        self.response_format = response_format_for(model)
        self._api_key = api_key
        timeout = httpx2.Timeout(timeout_s, connect=min(timeout_s, CONNECT_TIMEOUT_S))
        # The SDK closes this HTTP client with itself (close()).
        self._sdk = openai.OpenAI(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=0,
            http_client=openai.DefaultHttpx2Client(
                proxy=proxy_url or None, timeout=timeout, verify=shared_ssl_context()
            ),
        )

    @property
    def endpoint(self) -> str:
        """The transcription URL for logs and the audit: the key and a password in the base URL are ``***``."""
        return self._mask(masked_url(self.base_url.rstrip("/") + "/audio/transcriptions"))

    def close(self) -> None:
        self._sdk.close()

    def __enter__(self) -> TranscriptionClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def transcribe(self, audio: bytes, *, filename: str, language: str | None = None) -> ChunkTranscript:
        """Transcribe one file (its extension tells the server the format); ``language`` is an ISO 639-1 hint.

        Raises a :class:`TranscriptionError` subclass for every failure.
        """
        response_format = self.response_format
        try:
            return self._send(audio, filename, language, response_format)
        except openai.OpenAIError as error:
            if not (response_format == "verbose_json" and _rejects_response_format(error)):
                raise self._translated(error) from error
        # The model does not do verbose_json (a gpt-* model under another name, or a compatible
        # server): ask for json from now on; the duration then comes from our own measurement.
        logger.warning(
            "stt.response_format",
            extra={"event": "stt.response_format", "model": self.model, "response_format": "json"},
        )
        self.response_format = "json"
        try:
            return self._send(audio, filename, language, "json")
        except openai.OpenAIError as error:
            raise self._translated(error) from error

    def _send(self, audio: bytes, filename: str, language: str | None, response_format: str) -> ChunkTranscript:
        options: dict[str, Any] = {"response_format": response_format}
        if language:
            options["language"] = language
        if response_format == "verbose_json":
            options["timestamp_granularities"] = ["segment"]
        content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        raw = self._sdk.audio.transcriptions.with_raw_response.create(
            file=(filename, audio, content_type), model=self.model, **options
        )
        request_id = raw.headers.get("x-request-id")
        answer = raw.parse()
        if isinstance(answer, str) and response_format != "text":
            # The SDK hands back the body as text when it is not JSON: a proxy's login page, not a transcript.
            content_type = raw.headers.get("content-type", "no content type")
            raise UnexpectedAnswer(
                f"STT provider answered {raw.status_code} with {content_type} instead of JSON: {answer[:80]!r}",
                status_code=raw.status_code,
                request_id=request_id,
            )
        return _parsed(answer, response_format, request_id)

    def _translated(self, error: openai.OpenAIError) -> TranscriptionError:
        if isinstance(error, openai.APITimeoutError):
            return ProviderTimeout(
                f"STT provider did not answer within {self.timeout_s:g} s ({masked_url(self.base_url)})"
            )
        if isinstance(error, openai.APIConnectionError):
            via = f" via proxy {masked_url(self.proxy_url)}" if self.proxy_url else ""
            cause = error.__cause__.__class__.__name__ if error.__cause__ else "no answer"
            return ProviderUnreachable(f"STT provider unreachable{via} ({cause}): {masked_url(self.base_url)}")
        if isinstance(error, openai.APIStatusError):
            return self._status_error(error)
        return UnexpectedAnswer(f"STT provider answer could not be read: {self._mask(str(error))[:MESSAGE_LIMIT]}")

    def _status_error(self, error: openai.APIStatusError) -> ProviderHTTPError:
        status = error.status_code
        body = error.body
        detail = body.get("message") if isinstance(body, dict) else body
        message = f"STT provider answered {status}: {self._mask(str(detail or error.message))[:MESSAGE_LIMIT]}"
        context: dict[str, Any] = {
            "status_code": status,
            "retry_after": retry_after_seconds(error.response.headers),
            "request_id": error.request_id,
        }
        if status == 413:
            return FileTooLarge(f"{message}; {self.hint_413}", **context)
        if status in (415, 422):
            return UnsupportedFormat(f"{message}; {self.hint_422}", **context)
        if status == 429:
            return ProviderRateLimited(message, **context)
        return ProviderHTTPError(message, **context)

    def _mask(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text


def _rejects_response_format(error: openai.OpenAIError) -> bool:
    if not isinstance(error, openai.BadRequestError):
        return False
    return getattr(error, "param", None) == "response_format" or "response_format" in str(error.message)


def _parsed(answer: Any, response_format: str, request_id: str | None) -> ChunkTranscript:
    if isinstance(answer, str):
        return ChunkTranscript(answer.strip(), None, None, (), response_format, request_id)
    text = getattr(answer, "text", None)
    if not isinstance(text, str):
        raise UnexpectedAnswer(f"STT provider answered without text ({type(answer).__name__})", request_id=request_id)
    languages = getattr(answer, "languages", None) or []
    language = iso_639_1(getattr(answer, "language", None)) or next(
        (code for code in (iso_639_1(getattr(item, "code", None)) for item in languages) if code), None
    )
    usage = getattr(answer, "usage", None)
    duration = getattr(answer, "duration", None) or getattr(usage, "seconds", None)
    segments = tuple(
        TranscribedSegment(
            float(getattr(segment, "start", 0) or 0), float(getattr(segment, "end", 0) or 0), segment.text.strip()
        )
        for segment in getattr(answer, "segments", None) or []
        if getattr(segment, "text", "").strip()
    )
    return ChunkTranscript(
        text=text.strip(),
        language=language,
        duration_seconds=float(duration) if duration is not None else None,
        segments=segments,
        response_format=response_format,
        request_id=request_id,
    )


def retry_after_seconds(headers: Any) -> float | None:
    """Seconds to wait from ``retry-after-ms`` (OpenAI's) or ``Retry-After`` (seconds or an HTTP date)."""
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())
