"""Speech-to-text through OpenAI Whisper or a compatible server."""

from integrations.stt.audio import AudioChunk, AudioInfo, has_distinct_channels, probe, split_for_upload
from integrations.stt.client import ChunkTranscriber, ChunkTranscript, TranscribedSegment, TranscriptionClient
from integrations.stt.errors import (
    AudioConversionFailed,
    DurationLimitExceeded,
    FileTooLarge,
    ProviderHTTPError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnreachable,
    TranscriptionDisabled,
    TranscriptionError,
    UnexpectedAnswer,
    UnsupportedFormat,
)
from integrations.stt.languages import iso_639_1

__all__ = [
    "AudioChunk",
    "AudioConversionFailed",
    "AudioInfo",
    "ChunkTranscriber",
    "ChunkTranscript",
    "DurationLimitExceeded",
    "FileTooLarge",
    "ProviderHTTPError",
    "ProviderRateLimited",
    "ProviderTimeout",
    "ProviderUnreachable",
    "TranscribedSegment",
    "TranscriptionClient",
    "TranscriptionDisabled",
    "TranscriptionError",
    "UnexpectedAnswer",
    "UnsupportedFormat",
    "has_distinct_channels",
    "iso_639_1",
    "probe",
    "split_for_upload",
]
