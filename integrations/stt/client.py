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

import logging
import mimetypes
from dataclasses import dataclass
from typing import Any, Protocol

import openai

from integrations.openai_sdk import MESSAGE_LIMIT, OpenAICompatibleClient, retry_after_seconds
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
from integrations.text import clean_text
from mastermobile.observability.logging import masked_url

logger = logging.getLogger(__name__)

# OpenAI refuses bigger uploads whatever STT_MAX_FILE_SIZE_MB says.
MAX_UPLOAD_BYTES = 25 * 1024 * 1024
# OpenAI's gpt-* transcription models answer json or text only; Whisper and compatible servers do verbose_json.
JSON_ONLY_MODEL_PREFIXES = ("gpt-",)


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


def response_format_for(model: str) -> str:
    return "json" if model.startswith(JSON_ONLY_MODEL_PREFIXES) else "verbose_json"


class TranscriptionClient(OpenAICompatibleClient):
    """One configured connection to a transcription endpoint."""

    path = "/audio/transcriptions"

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
        shared_connections: bool = False,
    ):
        super().__init__(
            api_key=api_key,
            base_url=base_url,
            model=model,
            timeout_s=timeout_s,
            proxy_url=proxy_url,
            shared_connections=shared_connections,
        )
        self.hint_413 = hint_413
        self.hint_422 = hint_422
        self.response_format = response_format_for(model)

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
            return ProviderUnreachable(
                f"STT provider unreachable{self.unreachable_reason(error)}: {masked_url(self.base_url)}"
            )
        if isinstance(error, openai.APIStatusError):
            return self._status_error(error)
        return UnexpectedAnswer(f"STT provider answer could not be read: {self._mask(str(error))[:MESSAGE_LIMIT]}")

    def _status_error(self, error: openai.APIStatusError) -> ProviderHTTPError:
        status = error.status_code
        message = f"STT provider answered {status}: {self._status_detail(error)}"
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


def _rejects_response_format(error: openai.OpenAIError) -> bool:
    if not isinstance(error, openai.BadRequestError):
        return False
    return getattr(error, "param", None) == "response_format" or "response_format" in str(error.message)


def _parsed(answer: Any, response_format: str, request_id: str | None) -> ChunkTranscript:
    if isinstance(answer, str):
        return ChunkTranscript(clean_text(answer), None, None, (), response_format, request_id)
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
            float(getattr(segment, "start", 0) or 0),
            float(getattr(segment, "end", 0) or 0),
            clean_text(segment.text),
        )
        for segment in getattr(answer, "segments", None) or []
        if clean_text(getattr(segment, "text", "") or "")
    )
    return ChunkTranscript(
        text=clean_text(text),
        language=language,
        duration_seconds=float(duration) if duration is not None else None,
        segments=segments,
        response_format=response_format,
        request_id=request_id,
    )
