"""Chat completions through OpenAI or a compatible server: the LLM mode of call summaries (``CALL_SUMMARY_ENGINE=llm``).

:func:`summarizer_from_config` builds a :class:`CallSummarizer` (it refuses
without a key); :mod:`calls.summaries` decides when to use it and falls back
to the extractive bullets when it fails.
"""

from integrations.llm.client import ChatAnswer, ChatClient
from integrations.llm.errors import (
    ChatDisabled,
    ChatError,
    ChatHTTPError,
    ChatRateLimited,
    ChatTimeout,
    ChatUnavailable,
    ChatUnexpectedAnswer,
    ChatUnreachable,
)
from integrations.llm.factory import summarizer_from_config
from integrations.llm.summarizer import CallSummarizer, LLMSummary, answer_lines, excerpt, prompt_for

__all__ = [
    "CallSummarizer",
    "ChatAnswer",
    "ChatClient",
    "ChatDisabled",
    "ChatError",
    "ChatHTTPError",
    "ChatRateLimited",
    "ChatTimeout",
    "ChatUnavailable",
    "ChatUnexpectedAnswer",
    "ChatUnreachable",
    "LLMSummary",
    "answer_lines",
    "excerpt",
    "prompt_for",
    "summarizer_from_config",
]
