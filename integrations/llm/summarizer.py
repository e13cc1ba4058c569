"""Call summaries from a chat model (``CALL_SUMMARY_ENGINE=llm``): the prompt, the request under the policy, the answer's lines.

:class:`CallSummarizer` sends each request of its :class:`~integrations.llm.client.ChatClient`
through an :class:`~integrations.outbound.OutboundPolicy` for ``system="openai"``:
the chat circuit of the provider's host, ``integration_failures_total{system="openai",
retry_stage="summary"}`` and one ``IntegrationLog`` row per request.  It makes
exactly one attempt: a summary is never retried (STT-12 isolates its failure,
and :mod:`calls.summaries` falls back to the extractive bullets).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from integrations.circuitbreaker import CircuitBreaker
from integrations.llm.client import ChatClient
from integrations.llm.errors import ChatError, ChatUnavailable, ChatUnexpectedAnswer
from integrations.outbound import OutboundPolicy

logger = logging.getLogger(__name__)

SYSTEM = "openai"
EVENT = "llm.summary"
RETRY_STAGE = "summary"
# Where a transcript longer than the input limit loses its middle; the prompt explains the mark.
GAP = "\n[…]\n"
SYSTEM_PROMPT = (
    "You summarise one telephone call of a service company for its back office. "
    "The user message is the transcript of the call; its lines may start with a speaker label "
    "such as 'Оператор:' or 'Клиент:', and the middle of a long call may be left out, marked […]. "
    "Reply with 3 to 5 short bullet points, one per line, each starting with '- ': what the customer "
    "wanted, what was said or agreed, and the next step if there is one. Write them in {language}. "
    "State only what the transcript says: never invent names, phone numbers, addresses, amounts, "
    "dates or other personal data. Plain lines only: no heading, no introduction, no closing remark."
)
# "- ", "* ", "– ", "1. ", "2) " need the space (so "-5 %" and "10.5" keep their digits); "•" does not.
_MARKER = re.compile(r"^\s*(?:[•·▪]\s*|[-–—*]\s+|\d{1,2}[.)]\s+)")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class LLMSummary:
    """The answer's bullet lines (markers stripped, none empty, at least one) and the model that wrote them."""

    bullets: tuple[str, ...]
    model: str


def summary_policy(*, breaker: CircuitBreaker, correlation_id: str | None = None, audit: bool = True) -> OutboundPolicy:
    """The shared outbound policy as summaries need it: one attempt, no limiter, this module's log lines."""
    return OutboundPolicy(
        system=SYSTEM,
        breaker=breaker,
        errors=ChatError,
        unavailable=ChatUnavailable.circuit_open,
        max_attempts=1,
        audit=audit,
        correlation_id=correlation_id,
        logger=logger,
    )


def prompt_for(language: str | None) -> str:
    """The system message; ``language`` (ISO 639-1, from the transcription) keeps the bullets in the call's language."""
    named = f"the language of the call (ISO 639-1 code '{language}')" if language else "the language of the call"
    return SYSTEM_PROMPT.format(language=named)


def excerpt(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` characters, else its beginning and its end around :data:`GAP`.

    Both ends, because a call's request is usually stated at the start and
    what was agreed at the end.  Each piece drops the word at its cut, which
    may have been split.
    """
    if len(text) <= limit:
        return text
    room = limit - len(GAP)
    head = text[: room - room // 2].rsplit(None, 1)[0]
    tail = text[len(text) - room // 2 :].split(None, 1)[-1]
    return head + GAP + tail


def answer_lines(text: str) -> tuple[str, ...]:
    """The bullet lines of an answer, markers stripped and whitespace collapsed.

    When some lines carry a bullet marker, only those count: a model that
    adds "Вот краткое содержание:" or a closing offer despite the prompt
    loses them here.
    """
    lines = [(bool(_MARKER.match(line)), _SPACES.sub(" ", _MARKER.sub("", line)).strip()) for line in text.splitlines()]
    marked = any(has_marker for has_marker, _ in lines)
    return tuple(line for has_marker, line in lines if line and (has_marker or not marked))


class CallSummarizer:
    """Summaries of transcripts by ``client``'s model, each request under ``policy``.

    ``call_id`` goes on every audit row as ``resource_ref`` and on every log
    line; the policy's ``correlation_id`` (the run) on both as well.
    """

    def __init__(self, *, client: ChatClient, policy: OutboundPolicy, max_input_chars: int, call_id: str | None = None):
        self.client = client
        self.policy = policy
        self.max_input_chars = max_input_chars
        self.call_id = call_id

    def summarize(self, text: str, *, language: str | None = None) -> LLMSummary:
        """One request for ``text`` (cut to ``max_input_chars``); raises a :class:`ChatError` for every failure.

        An answer without a single bullet line is :class:`ChatUnexpectedAnswer`.
        """
        fields: dict[str, Any] = {"model": self.client.model}
        if self.call_id is not None:
            fields["call_id"] = self.call_id
        return self.policy.call(
            lambda: self._request(excerpt(text, self.max_input_chars), language),
            endpoint=self.client.endpoint,
            event=EVENT,
            retry_stage=RETRY_STAGE,
            resource_ref=self.call_id,
            log_fields=fields,
        )

    def _request(self, transcript: str, language: str | None) -> LLMSummary:
        # Parsed inside the policy's attempt, so that an answer with no bullet is audited as the failure it is.
        answer = self.client.complete(system=prompt_for(language), user=transcript)
        bullets = answer_lines(answer.text)
        if not bullets:
            raise ChatUnexpectedAnswer(
                f"chat model answered without a bullet: {answer.text[:80]!r}", request_id=answer.request_id
            )
        return LLMSummary(bullets=bullets, model=answer.model)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> CallSummarizer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
