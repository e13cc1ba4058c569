"""The transcription client behind the shared outbound policy: what :func:`~integrations.stt.factory.client_from_config` returns.

:class:`~integrations.stt.client.TranscriptionClient` stays the plain SDK
translator; :class:`Transcriber` sends each of its requests through an
:class:`~integrations.outbound.OutboundPolicy` for ``system="openai"``: the
circuit breaker of the provider's host, ``integration_failures_total{system="openai",
retry_stage="transcribe"}`` and one ``IntegrationLog`` row per request.  It
makes exactly one attempt: the transcription job owns retries (STT-06) and the
SDK is built with ``max_retries=0``, so nothing stacks them.
"""

from __future__ import annotations

import logging
from typing import Any

from integrations.circuitbreaker import CircuitBreaker
from integrations.outbound import OutboundPolicy
from integrations.stt.client import ChunkTranscript, TranscriptionClient
from integrations.stt.errors import ProviderUnavailable, TranscriptionError

logger = logging.getLogger(__name__)

SYSTEM = "openai"
EVENT = "stt.transcribe"
RETRY_STAGE = "transcribe"


def transcription_policy(
    *, breaker: CircuitBreaker, correlation_id: str | None = None, audit: bool = True
) -> OutboundPolicy:
    """The shared outbound policy as transcription needs it: one attempt, no limiter, this module's log lines."""
    return OutboundPolicy(
        system=SYSTEM,
        breaker=breaker,
        errors=TranscriptionError,
        unavailable=ProviderUnavailable.circuit_open,
        max_attempts=1,
        audit=audit,
        correlation_id=correlation_id,
        logger=logger,
    )


class Transcriber:
    """A :class:`TranscriptionClient` whose requests go through ``policy``; a :class:`ChunkTranscriber`.

    ``call_id`` (the Bitrix24 call the audio belongs to) goes on every audit
    row as ``resource_ref`` and on every log line; the policy's
    ``correlation_id`` (the job or run) on both as well.  The client's
    settings (``response_format``, ``hint_413``, ``base_url``…) read through.
    """

    def __init__(self, *, client: TranscriptionClient, policy: OutboundPolicy, call_id: str | None = None):
        self.client = client
        self.policy = policy
        self.call_id = call_id
        self.model = client.model

    def transcribe(self, audio: bytes, *, filename: str, language: str | None = None) -> ChunkTranscript:
        """:meth:`TranscriptionClient.transcribe` under the policy.

        Raises :class:`ProviderUnavailable` without a request while the
        provider's circuit is open, otherwise what the client raises.
        """
        fields: dict[str, Any] = {"file_name": filename}
        if self.call_id is not None:
            fields["call_id"] = self.call_id
        return self.policy.call(
            lambda: self.client.transcribe(audio, filename=filename, language=language),
            endpoint=self.client.endpoint,
            event=EVENT,
            retry_stage=RETRY_STAGE,
            resource_ref=self.call_id,
            log_fields=fields,
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Transcriber:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        # Only reached for names this class lacks; "client" itself must not recurse before __init__ set it.
        if name == "client":
            raise AttributeError(name)
        return getattr(self.client, name)
