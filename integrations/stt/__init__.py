"""Speech-to-text through OpenAI Whisper or a compatible server: ``transcribe_recording`` is the entry point.

Build the client with :func:`client_from_config` (it refuses while STT is
disabled; its requests go through the shared outbound policy, see
:mod:`integrations.stt.transcriber`) and the limits with
:func:`recording_settings_from_config`.
"""

from integrations.stt.audio import AudioChunk, AudioInfo, has_distinct_channels, probe, split_for_upload
from integrations.stt.client import ChunkTranscriber, ChunkTranscript, TranscribedSegment, TranscriptionClient
from integrations.stt.cost import billable_minutes, transcription_cost
from integrations.stt.errors import (
    AudioConversionFailed,
    DurationLimitExceeded,
    FileTooLarge,
    ProviderHTTPError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
    ProviderUnreachable,
    TranscriptionDisabled,
    TranscriptionError,
    UnexpectedAnswer,
    UnsupportedFormat,
)
from integrations.stt.factory import client_from_config, recording_settings_from_config, transcriber_for_engine
from integrations.stt.languages import iso_639_1
from integrations.stt.recording import (
    CLIENT_LABEL,
    OPERATOR_LABEL,
    RecordingSettings,
    RecordingTranscript,
    Segment,
    language_hint,
    transcribe_recording,
)
from integrations.stt.stub import STUB_ENGINE, STUB_TEXT, StubTranscriber

__all__ = [
    "CLIENT_LABEL",
    "OPERATOR_LABEL",
    "STUB_ENGINE",
    "STUB_TEXT",
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
    "ProviderUnavailable",
    "ProviderUnreachable",
    "RecordingSettings",
    "RecordingTranscript",
    "Segment",
    "StubTranscriber",
    "TranscribedSegment",
    "TranscriptionClient",
    "TranscriptionDisabled",
    "TranscriptionError",
    "UnexpectedAnswer",
    "UnsupportedFormat",
    "billable_minutes",
    "client_from_config",
    "has_distinct_channels",
    "iso_639_1",
    "language_hint",
    "probe",
    "recording_settings_from_config",
    "split_for_upload",
    "transcribe_recording",
    "transcriber_for_engine",
    "transcription_cost",
]
