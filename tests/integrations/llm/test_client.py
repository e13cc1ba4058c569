"""The chat client: the openai SDK talking to the fake OpenAI over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from integrations.llm.client import ChatClient
from integrations.llm.errors import (
    ChatError,
    ChatHTTPError,
    ChatRateLimited,
    ChatTimeout,
    ChatUnexpectedAnswer,
    ChatUnreachable,
)
from tests.fakes.http_proxy import ForwardingProxy
from tests.processes import free_port

TRANSCRIPT = "Клиент: Здравствуйте, не работает телефон. Оператор: Привезите его в сервис. Клиент: Хорошо, завтра."


@pytest.fixture
def make_client(fake_openai) -> Iterator:
    """``make_client(model=…, timeout_s=…, proxy_url=…)``: a client of the fake, closed after the test."""
    clients: list[ChatClient] = []

    def build(**options) -> ChatClient:
        options = {
            "api_key": fake_openai.api_key,
            "base_url": fake_openai.base_url,
            "model": "gpt-4o-mini",
            "timeout_s": 5.0,
            **options,
        }
        clients.append(ChatClient(**options))
        return clients[-1]

    yield build
    for client in clients:
        client.close()


def test_it_returns_the_assistants_message_and_the_model_that_answered(make_client):
    answer = make_client().complete(system="Summarise.", user=TRANSCRIPT)

    assert answer.text.splitlines() == [
        "- Клиент: Здравствуйте, не работает телефон.",
        "- Оператор: Привезите его в сервис.",
        "- Клиент: Хорошо, завтра.",
    ]
    assert (answer.model, answer.request_id) == ("gpt-4o-mini", "req_fake_000001")


def test_it_sends_the_model_the_system_and_the_user_message(make_client, fake_openai):
    make_client(model="gpt-4.1-nano").complete(system="Summarise.", user=TRANSCRIPT)

    [request] = fake_openai.chats()
    assert (request.path, request.model, request.system, request.text) == (
        "/v1/chat/completions",
        "gpt-4.1-nano",
        "Summarise.",
        TRANSCRIPT,
    )


@pytest.mark.parametrize(
    ("fault", "error_class", "code", "retryable"),
    [
        (500, ChatHTTPError, "http_500", True),
        (503, ChatHTTPError, "http_503", True),
        (429, ChatRateLimited, "http_429", True),
        (401, ChatHTTPError, "http_401", False),
        (404, ChatHTTPError, "http_404", False),
        ("reset", ChatUnreachable, "network_error", True),
        ("html", ChatUnexpectedAnswer, "unexpected_error", True),
    ],
)
def test_each_failure_is_a_typed_error_with_its_code(make_client, fake_openai, fault, error_class, code, retryable):
    fake_openai.fail_next(fault)

    with pytest.raises(error_class) as caught:
        make_client().complete(system="Summarise.", user=TRANSCRIPT)

    assert (caught.value.error_code, caught.value.retryable) == (code, retryable)


def test_a_slow_answer_is_a_timeout(make_client, fake_openai):
    fake_openai.slow_seconds = 1.0
    fake_openai.fail_next("timeout")

    with pytest.raises(ChatTimeout) as caught:
        make_client(timeout_s=0.3).complete(system="Summarise.", user=TRANSCRIPT)

    assert caught.value.error_code == "timeout"


@pytest.mark.parametrize("status", [429, 500, 503])
def test_the_sdk_never_retries_on_its_own(make_client, fake_openai, status):
    fake_openai.fail_next(status)

    with pytest.raises(ChatError):
        make_client().complete(system="Summarise.", user=TRANSCRIPT)

    assert len(fake_openai.chats()) == 1


def test_retry_after_and_the_request_id_come_back_with_a_429(make_client, fake_openai):
    fake_openai.fail_next(429, retry_after="7")

    with pytest.raises(ChatRateLimited) as caught:
        make_client().complete(system="Summarise.", user=TRANSCRIPT)

    assert (caught.value.retry_after, caught.value.status_code) == (7.0, 429)
    assert caught.value.request_id == "req_fake_000001"


def test_a_wrong_key_is_http_401_and_the_key_is_not_in_the_message(make_client, fake_openai):
    wrong = "sk-wrong-key-0123456789"

    with pytest.raises(ChatHTTPError) as caught:
        make_client(api_key=wrong).complete(system="Summarise.", user=TRANSCRIPT)

    assert caught.value.error_code == "http_401"
    assert wrong not in str(caught.value)


def test_the_endpoint_masks_a_password_in_the_base_url(make_client, fake_openai):
    with_key = fake_openai.base_url.replace("http://", f"http://user:{fake_openai.api_key}@")

    client = make_client(base_url=with_key)

    assert client.endpoint == f"http://user:***@127.0.0.1:{fake_openai.port}/v1/chat/completions"


def test_requests_go_through_the_configured_proxy(make_client, fake_openai):
    with ForwardingProxy() as proxy:
        answer = make_client(proxy_url=proxy.url).complete(system="Summarise.", user=TRANSCRIPT)

    assert answer.text.startswith("- Клиент:")
    assert proxy.requests == [f"POST {fake_openai.base_url}/chat/completions"]


def test_a_proxy_that_is_down_is_a_network_error_naming_the_proxy_without_its_password(make_client):
    dead_proxy = f"http://user:proxy-secret@127.0.0.1:{free_port()}"

    with pytest.raises(ChatUnreachable) as caught:
        make_client(proxy_url=dead_proxy).complete(system="Summarise.", user=TRANSCRIPT)

    assert "via proxy http://user:***@127.0.0.1:" in str(caught.value)
    assert "proxy-secret" not in str(caught.value)
