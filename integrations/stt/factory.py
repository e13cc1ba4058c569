"""Building the STT transcriber and the recording settings from explicit settings; the only place that knows :class:`AppConfig`."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from integrations.stt.client import MAX_UPLOAD_BYTES, TranscriptionClient
from integrations.stt.errors import TranscriptionDisabled
from integrations.stt.recording import RecordingSettings
from integrations.stt.stub import STUB_ENGINE, StubTranscriber

if TYPE_CHECKING:
    from integrations.stt.transcriber import Transcriber
    from mastermobile.config import AppConfig

MEGABYTE = 1024 * 1024


# Overrides for the policy and the audit context rather than the SDK client.
POLICY_OPTIONS = ("breaker", "correlation_id", "audit")


def client_from_config(config: AppConfig, **overrides: Any) -> Transcriber:
    """The transcriber for ``config``; raises :class:`TranscriptionDisabled` when STT is off (STT-01).

    Refusing here, before the SDK exists, means nothing can leave the process
    while STT is disabled.  The result is a :class:`TranscriptionClient` behind
    the shared outbound policy, whose circuit breaker is keyed by the
    provider's host (``openai:<host>``), so every worker process shares it.
    The transcriber and its audit context are the caller's (one a job); the
    HTTP connections are the process's (:func:`~integrations.openai_sdk.shared_http_client`).
    ``overrides``: ``correlation_id`` (the job or run) and ``call_id`` for the
    audit rows and logs, ``breaker``, ``audit``; the rest go to the
    :class:`TranscriptionClient` constructor.
    """
    # Imported here: the breaker and the audit need Django's models, and integrations.stt must
    # import without Django (the fake OpenAI, run by hand, imports integrations.stt.languages).
    from integrations.circuitbreaker import CircuitBreaker
    from integrations.stt.transcriber import Transcriber, transcription_policy

    if not config.stt_enabled:
        reason = "OPENAI_API_KEY is empty" if not config.openai_api_key else "STT_MAX_FILE_MINUTES is 0"
        raise TranscriptionDisabled(f"speech-to-text is disabled: {reason}")
    # The host alone: a user or password in the URL must not end up in the circuit's key.
    host = urlsplit(config.openai_base_url).netloc.rpartition("@")[2]
    policy_options: dict[str, Any] = {"breaker": CircuitBreaker(key=f"openai:{host}", system="openai")}
    policy_options.update({name: overrides.pop(name) for name in POLICY_OPTIONS if name in overrides})
    call_id = overrides.pop("call_id", None)
    options: dict[str, Any] = {
        "api_key": config.openai_api_key,
        "base_url": config.openai_base_url,
        "model": config.stt_openai_model,
        "timeout_s": config.stt_request_timeout_s,
        "proxy_url": config.chatgpt_proxy_url,
        "hint_413": config.stt_error_hint_413,
        "hint_422": config.stt_error_hint_422,
        "shared_connections": True,
    }
    options.update(overrides)
    return Transcriber(
        client=TranscriptionClient(**options), policy=transcription_policy(**policy_options), call_id=call_id
    )


def transcriber_for_engine(config: AppConfig, engine: str, **overrides: Any) -> Transcriber | StubTranscriber:
    """STT-03: ``stub`` is always available; ``openai-whisper`` only while STT is enabled."""
    if engine == STUB_ENGINE:
        return StubTranscriber()
    if engine != "openai-whisper":
        raise ValueError(f"unknown STT engine {engine!r}; accepted: openai-whisper, stub")
    return client_from_config(config, **overrides)


def recording_settings_from_config(config: AppConfig, engine: str | None = None) -> RecordingSettings:
    """The limits for ``engine`` (default: ``STT_DEFAULT_ENGINE``).

    The ``stub`` bills nothing and is available while STT is off (STT-03), when
    ``STT_MAX_FILE_MINUTES`` is 0: it then has no duration limit.
    """
    stub = (engine or config.stt_default_engine) == STUB_ENGINE
    max_seconds = config.stt_max_file_minutes * 60
    return RecordingSettings(
        max_recording_seconds=math.inf if stub and not max_seconds else max_seconds,
        max_chunk_seconds=config.stt_chunk_minutes * 60,
        # OpenAI's own limit caps the setting.
        max_chunk_bytes=min(config.stt_max_file_size_mb * MEGABYTE, MAX_UPLOAD_BYTES),
        silence_threshold_dbfs=config.stt_silence_threshold_dbfs,
        operator_channel=config.stt_operator_channel,
        rate_per_minute_usd=Decimal(0) if stub else config.whisper_rate_per_min_usd,
        duration_hint=config.stt_error_hint_413,
    )
