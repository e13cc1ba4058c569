"""The ``stub`` engine (STT-03): a fixed text for every chunk with speech, and no request leaves the process.

For tests, local development and the smoke check without a key; it is always
available, whatever ``OPENAI_API_KEY`` says.  Audio is still decoded, chunked
and checked for silence, so durations and ``no_speech`` are real; the cost is
zero, because nothing is billed.
"""

from __future__ import annotations

from integrations.stt.client import ChunkTranscript

STUB_ENGINE = "stub"
STUB_TEXT = "Transcription placeholder. Configure a real STT provider to replace this output."


class StubTranscriber:
    model = STUB_ENGINE

    def transcribe(self, audio: bytes, *, filename: str, language: str | None = None) -> ChunkTranscript:
        return ChunkTranscript(
            text=STUB_TEXT,
            language=language,
            duration_seconds=None,
            segments=(),
            response_format="text",
            request_id=None,
        )

    def close(self) -> None:
        return None

    def __enter__(self) -> StubTranscriber:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
