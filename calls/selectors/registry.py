"""Registry reads: the call records of the call registry (EXP-04/05) and the values a row is built from.

They are a module of their own because their readers, the registry's one
writer (:mod:`calls.registry`, for the API, the command and the package) and
the ``call_registry`` command's count, need nothing else of the calls app's
reads; the field list here and the row the writer unpacks from it change
together.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from django.db.models import Q, QuerySet

from calls.models import CallRecord

REGISTRY_CHUNK_ROWS = 2000
# The CallRecord fields a registry row is built from, in the order calls.registry.registry_row unpacks them.
REGISTRY_SOURCE_FIELDS = (
    "run_id",
    "call_id",
    "record_id",
    "employee_id",
    "call_started_at",
    "direction",
    "from_number",
    "to_number",
    "duration_sec",
    "recording_url",
    "transcript_path",
    "summary_path",
    "text_preview",
    "transcription_cost",
    "currency_code",
    "language",
    "status",
    "error_code",
    "attempts",
    "checksum",
)


def registry_records(
    *,
    period_from: datetime | None = None,
    period_to: datetime | None = None,
    employee_id: str | None = None,
    has_text: bool | None = None,
) -> QuerySet[CallRecord]:
    """Records of the call registry (EXP-04/05): started in the inclusive period, oldest first, then by id.

    Records with no start time are left out; ``has_text`` is whether a
    transcript key is set.
    """
    records = CallRecord.objects.filter(call_started_at__isnull=False)
    if period_from is not None:
        records = records.filter(call_started_at__gte=period_from)
    if period_to is not None:
        records = records.filter(call_started_at__lte=period_to)
    if employee_id is not None:
        records = records.filter(employee_id=employee_id)
    if has_text is True:
        records = records.exclude(transcript_path__isnull=True).exclude(transcript_path="")
    elif has_text is False:
        records = records.filter(Q(transcript_path__isnull=True) | Q(transcript_path=""))
    return records.order_by("call_started_at", "id")


def registry_values(**filters) -> Iterator[tuple]:
    """The registry's source values (:data:`REGISTRY_SOURCE_FIELDS`), read in chunks with a server-side cursor."""
    return registry_records(**filters).values_list(*REGISTRY_SOURCE_FIELDS).iterator(chunk_size=REGISTRY_CHUNK_ROWS)
