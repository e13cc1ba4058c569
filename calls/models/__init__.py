"""Models of the calls app, one module per thing stored; every public name is re-exported here.

Bitrix24 call export runs and call records (spec 03, CALL-01…CALL-12), and what the pipeline makes of them:

- :mod:`calls.models.errors`: :class:`InvalidTransition`, raised by the runs' and the records' state machines.
- :mod:`calls.models.exports`: export runs (``CallExport``), their statuses and transitions, the trigger labels.
- :mod:`calls.models.records`: call records (``CallRecord``), their statuses and transitions, the error codes' labels.
- :mod:`calls.models.transcripts`: a record's transcript and summary (``Transcript``, ``CallSummary``).
- :mod:`calls.models.jobs`: transcription jobs (``TranscriptionJob``), their statuses and transitions.
- :mod:`calls.models.reviews`: staff QA verdicts on a report's sample (``QaReview``).
- :mod:`calls.models.registry`: the audit of call registry downloads (``RegistryDownload``).

A module imports only the ones listed above it.  ``from calls.models import X`` works for every name; the
imports below keep the modules' order, which is the order Django registers the models in, as when they were one
module.
"""

from calls.models.errors import InvalidTransition

# isort: split
from calls.models.exports import (
    ACTIVE_EXPORT_STATUSES,
    EXPORT_TRANSITIONS,
    RUN_TRIGGER_LABELS,
    CallExport,
    CallExportQuerySet,
    CallExportStatus,
    run_trigger_label,
)

# isort: split
from calls.models.records import (
    FINAL_ERROR_CODES,
    FINAL_RECORD_Q,
    MAX_DOWNLOAD_ATTEMPTS,
    OPEN_RECORD_STATUSES,
    RECORD_CODE_LABELS,
    RECORD_TRANSITIONS,
    TRANSCRIPTION_CODES,
    CallDirection,
    CallRecord,
    CallRecordStatus,
    S,
    record_code_label,
)

# isort: split
from calls.models.transcripts import CallSummary, Transcript

# isort: split
from calls.models.jobs import (
    DEDUP_KEY_MAX_LENGTH,
    JOB_TRANSITIONS,
    OPEN_JOB_STATUSES,
    J,
    TranscriptionJob,
    TranscriptionJobStatus,
)

# isort: split
from calls.models.reviews import QaReview, QaVerdict

# isort: split
from calls.models.registry import RegistryDownload

__all__ = [
    "ACTIVE_EXPORT_STATUSES",
    "DEDUP_KEY_MAX_LENGTH",
    "EXPORT_TRANSITIONS",
    "FINAL_ERROR_CODES",
    "FINAL_RECORD_Q",
    "JOB_TRANSITIONS",
    "MAX_DOWNLOAD_ATTEMPTS",
    "OPEN_JOB_STATUSES",
    "OPEN_RECORD_STATUSES",
    "RECORD_CODE_LABELS",
    "RECORD_TRANSITIONS",
    "RUN_TRIGGER_LABELS",
    "TRANSCRIPTION_CODES",
    "CallDirection",
    "CallExport",
    "CallExportQuerySet",
    "CallExportStatus",
    "CallRecord",
    "CallRecordStatus",
    "CallSummary",
    "InvalidTransition",
    "J",
    "QaReview",
    "QaVerdict",
    "RegistryDownload",
    "S",
    "Transcript",
    "TranscriptionJob",
    "TranscriptionJobStatus",
    "record_code_label",
    "run_trigger_label",
]
