"""Provider failures as typed errors with the pipeline error code and the retryable flag (STT-06, STT-56)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from integrations.openai_sdk import retry_after_seconds
from integrations.stt.errors import (
    FileTooLarge,
    ProviderHTTPError,
    ProviderRateLimited,
    TranscriptionError,
    UnexpectedAnswer,
    UnsupportedFormat,
)
from tests.fakes.audio import encoded, tone

RECORDING = encoded(tone(440, 1), container="mp3")


def failure(make_client, **options) -> TranscriptionError:
    with pytest.raises(TranscriptionError) as caught:
        make_client(**options).transcribe(RECORDING, filename="call.mp3")
    return caught.value


@pytest.mark.parametrize(
    ("status", "error_class", "error_code", "retryable"),
    [
        (400, ProviderHTTPError, "http_400", False),
        (401, ProviderHTTPError, "http_401", False),
        (403, ProviderHTTPError, "http_403", False),
        (404, ProviderHTTPError, "http_404", False),
        (408, ProviderHTTPError, "http_408", True),
        (409, ProviderHTTPError, "http_409", True),
        (413, FileTooLarge, "file_too_large", False),
        (415, UnsupportedFormat, "unsupported_format", False),
        (422, UnsupportedFormat, "unsupported_format", False),
        (429, ProviderRateLimited, "http_429", True),
        (500, ProviderHTTPError, "http_500", True),
        (502, ProviderHTTPError, "http_502", True),
        (503, ProviderHTTPError, "http_503", True),
    ],
)
def test_each_status_maps_to_its_error_class_code_and_retryable_flag(
    make_client, fake_openai, status, error_class, error_code, retryable
):
    fake_openai.fail_next(status)

    error = failure(make_client)

    assert type(error) is error_class
    assert (error.status_code, error.error_code, error.retryable) == (status, error_code, retryable)
    assert error.request_id


def test_the_message_carries_the_providers_explanation(make_client, fake_openai):
    fake_openai.fail_next(503)

    assert (
        str(failure(make_client))
        == "STT provider answered 503: The engine is currently overloaded, please try again later."
    )


def test_a_413_message_ends_with_the_size_hint(make_client, fake_openai):
    fake_openai.fail_next(413)

    assert str(failure(make_client, hint_413="файл превышает допустимые ограничения")).endswith(
        "; файл превышает допустимые ограничения"
    )


def test_a_422_message_ends_with_the_format_hint(make_client, fake_openai):
    fake_openai.fail_next(422)

    assert str(failure(make_client)).endswith("; format not recognised, try WAV/MP3/M4A")


def test_retry_after_of_a_429_is_exposed_in_seconds(make_client, fake_openai):
    fake_openai.fail_next(429, retry_after="7")

    assert failure(make_client).retry_after == 7.0


def test_an_error_without_retry_after_leaves_it_unset(make_client, fake_openai):
    fake_openai.fail_next(500)

    assert failure(make_client).retry_after is None


def test_a_wrong_key_is_a_401_whose_message_does_not_carry_the_key(make_client, fake_openai):
    key = "sk-wrong-key-0123456789abcdef"

    error = failure(make_client, api_key=key)

    assert (error.error_code, error.retryable) == ("http_401", False)
    assert key not in str(error)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "12"}, 12.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_is_read_from_seconds_or_openais_milliseconds(headers, seconds):
    assert retry_after_seconds(headers) == seconds


def test_retry_after_as_an_http_date_is_the_seconds_until_then():
    then = datetime.now(UTC) + timedelta(seconds=30)

    assert retry_after_seconds({"retry-after": format_datetime(then, usegmt=True)}) == pytest.approx(30, abs=2)


def test_a_login_page_with_status_200_is_an_unexpected_answer_not_a_transcript(make_client, fake_openai):
    fake_openai.fail_next("html")

    error = failure(make_client)

    assert type(error) is UnexpectedAnswer
    assert (error.error_code, error.retryable, error.status_code) == ("unexpected_error", True, 200)
    assert "text/html" in str(error)
