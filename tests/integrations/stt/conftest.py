from __future__ import annotations

from collections.abc import Iterator

import pytest

from integrations.stt.client import TranscriptionClient
from tests.fakes.openai import FakeOpenAI


@pytest.fixture
def make_client(fake_openai: FakeOpenAI) -> Iterator:
    """``make_client(model=…, timeout_s=…, proxy_url=…)``: a client of the fake, closed after the test."""
    clients: list[TranscriptionClient] = []

    def build(**options) -> TranscriptionClient:
        options = {
            "api_key": fake_openai.api_key,
            "base_url": fake_openai.base_url,
            "model": "whisper-1",
            "timeout_s": 5.0,
            "hint_413": "file exceeds the allowed limits",
            "hint_422": "format not recognised, try WAV/MP3/M4A",
            **options,
        }
        clients.append(TranscriptionClient(**options))
        return clients[-1]

    yield build
    for client in clients:
        client.close()
