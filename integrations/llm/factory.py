"""Building the call summarizer from explicit settings; the only place in :mod:`integrations.llm` that knows :class:`AppConfig`."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from integrations.circuitbreaker import CircuitBreaker
from integrations.llm.client import ChatClient
from integrations.llm.errors import ChatDisabled
from integrations.llm.summarizer import CallSummarizer, summary_policy

if TYPE_CHECKING:
    from mastermobile.config import AppConfig


def summarizer_from_config(
    config: AppConfig,
    *,
    call_id: str | None = None,
    correlation_id: str | None = None,
    breaker: CircuitBreaker | None = None,
    audit: bool = True,
) -> CallSummarizer:
    """The summarizer for ``config``; raises :class:`ChatDisabled` without ``OPENAI_API_KEY``.

    It talks to ``OPENAI_BASE_URL`` with ``CALL_SUMMARY_MODEL`` through
    ``CHATGPT_PROXY_URL``, like transcription, and waits ``REQUEST_TIMEOUT_S``.
    Its circuit is ``openai-chat:<host>``, apart from the transcription
    circuit ``openai:<host>``: failing summaries must never stop
    transcription (STT-12).  ``call_id`` and ``correlation_id`` (the run) go
    on every audit row and log line.
    """
    if not config.openai_api_key:
        raise ChatDisabled("LLM summaries are disabled: OPENAI_API_KEY is empty")
    # The host alone: a user or password in the URL must not end up in the circuit's key.
    host = urlsplit(config.openai_base_url).netloc.rpartition("@")[2]
    client = ChatClient(
        api_key=config.openai_api_key,
        base_url=config.openai_base_url,
        model=config.call_summary_model,
        timeout_s=config.request_timeout_s,
        proxy_url=config.chatgpt_proxy_url,
    )
    policy = summary_policy(
        breaker=breaker or CircuitBreaker(key=f"openai-chat:{host}", system="openai"),
        correlation_id=correlation_id,
        audit=audit,
    )
    return CallSummarizer(
        client=client, policy=policy, max_input_chars=config.call_summary_max_input_chars, call_id=call_id
    )
