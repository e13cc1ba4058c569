"""Chat completions through the official ``openai`` SDK: OpenAI or any compatible server.

:class:`ChatClient` builds one ``POST <base_url>/chat/completions`` per call
and returns the assistant's text as a :class:`ChatAnswer`.  It does not
retry: the SDK is built with ``max_retries=0`` and every failure becomes a
typed :class:`~integrations.llm.errors.ChatError`.  It knows nothing of the
circuit breaker, the failure metric or the integration log:
:class:`~integrations.llm.summarizer.CallSummarizer` puts it behind the shared
outbound policy.  Nothing here reads settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import openai

from integrations.llm.errors import (
    ChatError,
    ChatHTTPError,
    ChatRateLimited,
    ChatTimeout,
    ChatUnexpectedAnswer,
    ChatUnreachable,
)
from integrations.openai_sdk import MESSAGE_LIMIT, OpenAICompatibleClient, retry_after_seconds
from integrations.text import clean_text


@dataclass(frozen=True)
class ChatAnswer:
    """The assistant's message; ``model`` is the one that answered (OpenAI names the dated version)."""

    text: str
    model: str
    request_id: str | None


class ChatClient(OpenAICompatibleClient):
    """One configured connection to a chat-completions endpoint."""

    path = "/chat/completions"

    def complete(self, *, system: str, user: str) -> ChatAnswer:
        """One completion of a system and a user message; raises a :class:`ChatError` subclass for every failure.

        Only ``model`` and ``messages`` are sent: ``temperature`` and
        ``max_tokens`` are refused by OpenAI's reasoning models and
        ``max_completion_tokens`` by older compatible servers, so the prompt,
        not a parameter, keeps the answer short.
        """
        messages: list[Any] = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        try:
            raw = self._sdk.chat.completions.with_raw_response.create(model=self.model, messages=messages)
            request_id = raw.headers.get("x-request-id")
            answer = raw.parse()
        except openai.OpenAIError as error:
            raise self._translated(error) from error
        if isinstance(answer, str):
            # The SDK hands back the body as text when it is not JSON: a proxy's login page, not a completion.
            content_type = raw.headers.get("content-type", "no content type")
            raise ChatUnexpectedAnswer(
                f"chat model answered {raw.status_code} with {content_type} instead of JSON: {answer[:80]!r}",
                status_code=raw.status_code,
                request_id=request_id,
            )
        choices = getattr(answer, "choices", None) or []
        text = getattr(getattr(choices[0], "message", None), "content", None) if choices else None
        text = clean_text(text) if isinstance(text, str) else None
        if not text:
            raise ChatUnexpectedAnswer("chat model answered without a message", request_id=request_id)
        return ChatAnswer(text=text, model=getattr(answer, "model", None) or self.model, request_id=request_id)

    def _translated(self, error: openai.OpenAIError) -> ChatError:
        if isinstance(error, openai.APITimeoutError):
            return ChatTimeout(f"chat model did not answer within {self.timeout_s:g} s ({self.endpoint})")
        if isinstance(error, openai.APIConnectionError):
            return ChatUnreachable(f"chat model unreachable{self.unreachable_reason(error)}: {self.endpoint}")
        if isinstance(error, openai.APIStatusError):
            message = f"chat model answered {error.status_code}: {self._status_detail(error)}"
            error_class = ChatRateLimited if error.status_code == 429 else ChatHTTPError
            return error_class(
                message,
                status_code=error.status_code,
                retry_after=retry_after_seconds(error.response.headers),
                request_id=error.request_id,
            )
        return ChatUnexpectedAnswer(f"chat answer could not be read: {self._mask(str(error))[:MESSAGE_LIMIT]}")
