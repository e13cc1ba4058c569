"""The call registry (EXP-01…EXP-05): one writer for the API, the ``call_registry`` command and the run's package.

A registry row is built from the values of :data:`calls.selectors.registry.REGISTRY_SOURCE_FIELDS` (read with
``values_list``, no model instances) by :func:`registry_row`; :func:`csv_chunks`
and :func:`json_chunks` turn rows into bytes a few hundred rows at a time, so a
streamed download holds one batch in memory whatever the period's size.

* CSV (EXP-02): UTF-8 with a BOM, ``;``, CRLF, quotes only around fields with
  ``;``, ``"``, CR or LF (inner quotes doubled), missing values empty.
* JSON (EXP-05): one array of objects; missing values ``null``, the cost a
  string with two decimals, ``retry_count`` an integer, ``has_text`` a boolean.
* Masking (EXP-03): with ``PII_MASKING_ENABLED``, unless the reader may see
  unmasked data, ``from``/``to`` keep two characters and ``***`` and the
  recording URL loses its query string; the access key in it (``auth=…``) is masked for every reader.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, BinaryIO
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from calls.models import RegistryDownload
from calls.selectors.registry import registry_values
from mastermobile.observability.logging import mask_phone, masked_url

REGISTRY_COLUMNS = (
    "run_id",
    "call_id",
    "record_id",
    "employee",
    "datetime_start",
    "direction",
    "from",
    "to",
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
    "retry_count",
    "checksum",
)
EXPORT_COLUMNS = (*REGISTRY_COLUMNS, "has_text")
PREVIEW_MAX_BYTES = 1024
BOM = "\ufeff".encode()
_CENTS = Decimal("0.01")
_BATCH_ROWS = 500


class RegistryFormat:
    """How rows are rendered: the time zone and whether personal data is masked."""

    def __init__(self, *, time_zone: tzinfo, mask_pii: bool):
        self.time_zone = time_zone
        self.mask_pii = mask_pii

    @classmethod
    def for_reader(cls, *, unmasked: bool) -> RegistryFormat:
        """The configured format (``CALL_EXPORT_TIMEZONE``, ``PII_MASKING_ENABLED``) for a reader who may or may not see unmasked data."""
        config = settings.APP_CONFIG
        return cls(time_zone=ZoneInfo(settings.TIME_ZONE), mask_pii=config.pii_masking_enabled and not unmasked)


def registry_row(values: tuple[Any, ...], form: RegistryFormat) -> dict[str, Any]:
    """One registry row (the keys of :data:`EXPORT_COLUMNS`) from a record's :data:`calls.selectors.registry.REGISTRY_SOURCE_FIELDS` values.

    Values keep their types (None for missing, int, bool); the CSV and JSON
    writers render them.
    """
    (
        run_id,
        call_id,
        record_id,
        employee_id,
        started_at,
        direction,
        from_number,
        to_number,
        duration_sec,
        recording_url,
        transcript_path,
        summary_path,
        text_preview,
        cost,
        currency_code,
        language,
        status,
        error_code,
        attempts,
        checksum,
    ) = values
    # The access key of a recording URL (auth=…) is a credential, not personal data: masked for every reader.
    recording_url = masked_url(recording_url) if recording_url else recording_url
    if form.mask_pii:
        from_number, to_number = mask_phone(from_number), mask_phone(to_number)
        recording_url = _without_query(recording_url)
    return {
        "run_id": str(run_id) if run_id else None,
        "call_id": call_id,
        "record_id": record_id or None,
        "employee": employee_id or None,
        "datetime_start": _rfc3339(started_at, form.time_zone),
        "direction": direction,
        "from": from_number,
        "to": to_number,
        "duration_sec": duration_sec,
        "recording_url": recording_url or None,
        "transcript_path": transcript_path or None,
        "summary_path": summary_path or None,
        "text_preview": preview_for_registry(text_preview) or None,
        "transcription_cost": str(Decimal(cost or 0).quantize(_CENTS, rounding=ROUND_HALF_UP)),
        "currency_code": currency_code or None,
        "language": language or None,
        "status": status,
        "error_code": error_code or None,
        "retry_count": attempts,
        "checksum": checksum or None,
        "has_text": bool(transcript_path),
    }


def preview_for_registry(text: str | None) -> str:
    """EXP-01: line breaks as spaces, at most 1024 UTF-8 bytes, never a broken character."""
    if not text:
        return ""
    flat = " ".join(text.splitlines())
    encoded = flat.encode()
    if len(encoded) <= PREVIEW_MAX_BYTES:
        return flat
    return encoded[:PREVIEW_MAX_BYTES].decode(errors="ignore")


def rows(values: Iterable[tuple[Any, ...]], form: RegistryFormat) -> Iterator[dict[str, Any]]:
    for item in values:
        yield registry_row(item, form)


def csv_chunks(registry_rows: Iterable[dict[str, Any]], columns: tuple[str, ...] = REGISTRY_COLUMNS) -> Iterator[bytes]:
    """EXP-02 bytes: the BOM and header first, then the rows a batch at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(columns)
    yield BOM + _drained(buffer)
    batch = 0
    for row in registry_rows:
        writer.writerow([_csv_value(row[column]) for column in columns])
        batch += 1
        if batch == _BATCH_ROWS:
            yield _drained(buffer)
            batch = 0
    if batch:
        yield _drained(buffer)


def json_chunks(registry_rows: Iterable[dict[str, Any]], columns: tuple[str, ...] = EXPORT_COLUMNS) -> Iterator[bytes]:
    """EXP-05: one JSON array, streamed; ``[]`` when there are no rows."""
    encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
    parts: list[str] = ["["]
    first = True
    for row in registry_rows:
        parts.append(("" if first else ",") + encoder.encode({column: row[column] for column in columns}))
        first = False
        if len(parts) >= _BATCH_ROWS:
            yield "".join(parts).encode()
            parts = []
    parts.append("]")
    yield "".join(parts).encode()


def registry_download(
    *,
    export_format: str,
    columns: tuple[str, ...],
    filters: dict[str, Any],
    unmasked: bool,
    principal: str,
    user: Any,
    channel: str,
    endpoint: str,
    on_progress: Callable[[int], None] | None = None,
) -> Iterator[bytes]:
    """An audited download (EXP-03): its audit row is written now; the bytes are made as they are read.

    The row count and ``finished_at`` are filled in when the last chunk has
    gone out, so a download that broke off shows as unfinished.
    """
    download = RegistryDownload.objects.create(
        user=user,
        principal=principal,
        channel=channel,
        format=export_format,
        endpoint=endpoint[:200],
        filters={name: _filter_value(value) for name, value in filters.items() if value is not None},
        unmasked=unmasked,
    )
    counted = CountedRows(rows(registry_values(**filters), RegistryFormat.for_reader(unmasked=unmasked)), on_progress)
    chunks = json_chunks(counted, columns) if export_format == "json" else csv_chunks(counted, columns)

    def audited() -> Iterator[bytes]:
        yield from chunks
        RegistryDownload.objects.filter(pk=download.pk).update(row_count=counted.count, finished_at=timezone.now())

    return audited()


def registry_csv_chunks(*, period_from: datetime, period_to: datetime, unmasked: bool) -> Iterator[bytes]:
    """The EXP-01/02 registry of calls started in ``[period_from, period_to]``, as CSV chunks."""
    values = registry_values(period_from=period_from, period_to=period_to)
    return csv_chunks(rows(values, RegistryFormat.for_reader(unmasked=unmasked)))


def write_registry_csv(stream: BinaryIO, *, period_from: datetime, period_to: datetime, unmasked: bool) -> int:
    """Write the EXP-01/02 registry of calls started in ``[period_from, period_to]`` to ``stream``; the row count."""
    counted = CountedRows(
        rows(
            registry_values(period_from=period_from, period_to=period_to), RegistryFormat.for_reader(unmasked=unmasked)
        )
    )
    for chunk in csv_chunks(counted):
        stream.write(chunk)
    return counted.count


class CountedRows:
    """Rows passed through, counted: the audit row says how many went out, a progress bar how many so far."""

    def __init__(self, source: Iterable[dict[str, Any]], on_progress: Callable[[int], None] | None = None):
        self._source = source
        self._on_progress = on_progress
        self.count = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for row in self._source:
            self.count += 1
            if self._on_progress and self.count % _BATCH_ROWS == 0:
                self._on_progress(self.count)
            yield row
        if self._on_progress:
            self._on_progress(self.count)


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def _drained(buffer: io.StringIO) -> bytes:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text.encode()


def _rfc3339(moment: datetime | None, time_zone: tzinfo) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(time_zone).isoformat(timespec="seconds")


def _filter_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _without_query(url: str | None) -> str | None:
    if not url:
        return url
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
