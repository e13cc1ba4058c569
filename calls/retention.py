"""Retention of stored call assets and of their text in the database (STT-30…STT-32).

One sweep walks the storage prefixes, deletes every file older than its
category's window and brings the database in line:

- ``raw/``: the records whose audio goes get ``audio_purged_at`` (never downloaded again);
- ``summaries/``: ``CallRecord.summary_path`` is cleared and the summary's bullets are
  emptied; the ``CallSummary`` row keeps its ``storage_path`` as the history of the file;
- transcripts whose text is older than their window lose it, keep a
  ``purged_at`` marker, and their record loses ``text_preview``.

The database is updated *before* the files of a batch are deleted: a sweep that dies
in between leaves files that the next sweep deletes (they are still expired), never
records that claim audio which is gone.  CallExport and CallRecord rows are never deleted.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.core.files.storage import FileSystemStorage, Storage
from django.db import transaction
from django.utils import timezone

from calls.models import CallRecord, CallSummary, Transcript
from calls.storage import default_storage

if TYPE_CHECKING:
    from mastermobile.config import AppConfig

logger = logging.getLogger(__name__)

# STT-30 fixes these windows; they have no setting of their own.
REGISTRY_RETENTION_DAYS = 365
REPORT_RETENTION_DAYS = 180
# The most keys one S3 DeleteObjects request accepts; local batches use it too so that
# the database follow-up runs one query per thousand files, not one per file.
BATCH_SIZE = 1000
# The database's ``IN (…)`` lists stay well below SQLite's limit on bound parameters.
DB_CHUNK = 500
# The prefixes a sweep lists; export categories are told apart inside ``exports/``.
PREFIXES = {"raw": "raw/", "transcripts": "transcripts/", "summaries": "summaries/"}
EXPORTS_PREFIX = "exports/"
EXPORT_CATEGORIES = ("registry", "reports", "logs")
CATEGORY_LABELS = {
    "raw": "raw/",
    "transcripts": "transcripts/",
    "summaries": "summaries/",
    "registry": "exports/*/registry/",
    "reports": "exports/*/reports/",
    "logs": "exports/*/logs/",
}
CATEGORIES = tuple(CATEGORY_LABELS)


class StorageUnavailable(Exception):
    """The storage cannot be listed at all (unreachable endpoint, missing bucket, refused credentials)."""


@dataclass(frozen=True)
class StoredObject:
    """One file: its storage key (relative to the storage root), age and size."""

    key: str
    modified: datetime
    size: int


@dataclass
class CategoryCounts:
    """What a sweep did in one category; in a dry run ``removed`` counts what it would remove."""

    removed: int = 0
    failed: int = 0
    bytes: int = 0


@dataclass
class CleanupResult:
    """Counts of one sweep (STT-31), per category and in total, plus the database follow-up (STT-32)."""

    backend: str
    dry_run: bool
    categories: dict[str, CategoryCounts] = field(
        default_factory=lambda: {name: CategoryCounts() for name in CATEGORIES}
    )
    audio_purged: int = 0
    summaries_purged: int = 0
    transcripts_purged: int = 0

    @property
    def total_removed(self) -> int:
        return sum(counts.removed for counts in self.categories.values())

    @property
    def total_failed(self) -> int:
        return sum(counts.failed for counts in self.categories.values())

    @property
    def local_removed(self) -> int:
        return self.total_removed if self.backend == "local" else 0

    @property
    def s3_removed(self) -> int:
        return self.total_removed if self.backend == "s3" else 0

    def as_dict(self) -> dict:
        return {
            "backend": self.backend,
            "dry_run": self.dry_run,
            "local_removed": self.local_removed,
            "s3_removed": self.s3_removed,
            "total_removed": self.total_removed,
            "total_failed": self.total_failed,
            "categories": {
                name: {"removed": c.removed, "failed": c.failed, "bytes": c.bytes}
                for name, c in self.categories.items()
            },
            "audio_purged": self.audio_purged,
            "summaries_purged": self.summaries_purged,
            "transcripts_purged": self.transcripts_purged,
        }


# Called every thousand files listed and once a prefix is done: (prefix, files listed, files expired).
Progress = Callable[[str, int, int], None]


def retention_windows(config: AppConfig) -> dict[str, int]:
    """Days each category is kept (STT-30); 0 keeps it for ever."""
    return {
        "raw": config.raw_recording_retention_days,
        "transcripts": config.transcript_retention_days,
        "summaries": config.summary_retention_days,
        "registry": REGISTRY_RETENTION_DAYS,
        "reports": REPORT_RETENTION_DAYS,
        "logs": REPORT_RETENTION_DAYS,
    }


def category_of(key: str) -> str | None:
    """The retention category of a storage key (STT-20 layout); None for anything else."""
    top, _, rest = key.partition("/")
    if top in PREFIXES and rest:
        return top
    parts = key.split("/")
    if top == "exports" and len(parts) >= 4 and parts[2] in EXPORT_CATEGORIES:
        return parts[2]
    return None


class LocalBackend:
    """The local file system under the FileSystemStorage root."""

    name = "local"

    def __init__(self, root: Path):
        self.root = root

    def check(self) -> None:
        # A missing root is a fresh install (the first download creates it): nothing to clean.
        if self.root.exists() and not (self.root.is_dir() and os.access(self.root, os.R_OK | os.X_OK)):
            raise StorageUnavailable(f"local storage root {self.root} is not a readable directory")

    def objects(self, prefix: str) -> Iterator[StoredObject]:
        for directory, subdirectories, files in os.walk(self.root / prefix, onerror=_log_walk_error):
            subdirectories.sort()
            for name in sorted(files):
                path = Path(directory, name)
                try:
                    stat = path.lstat()
                except OSError as error:
                    _log_failure("stat", path.relative_to(self.root).as_posix(), error)
                    continue
                modified = datetime.fromtimestamp(stat.st_mtime, UTC)
                yield StoredObject(key=path.relative_to(self.root).as_posix(), modified=modified, size=stat.st_size)

    def delete(self, keys: list[str]) -> set[str]:
        deleted = set()
        for key in keys:
            try:
                (self.root / key).unlink(missing_ok=True)
            except OSError as error:
                _log_failure("delete", key, error)
                continue
            deleted.add(key)
        return deleted

    def tidy(self, prefix: str) -> None:
        """Remove the directories the sweep left empty, deepest first; the prefix itself stays.

        ``rmdir`` refuses a directory that is not empty, so a file written meanwhile is
        safe; a download that created its directory just before it went fails once and
        is retried on its schedule (CALL-16).
        """
        top = self.root / prefix
        for directory, _subdirectories, files in os.walk(top, topdown=False, onerror=_log_walk_error):
            if files or Path(directory) == top:
                continue
            try:
                os.rmdir(directory)
            except OSError:
                logger.debug("storage.cleanup_dir_kept", extra={"event": "storage.cleanup_dir_kept"}, exc_info=True)


class S3Backend:
    """An S3 bucket through the boto3 client of the django-storages backend."""

    name = "s3"

    def __init__(self, storage: Storage):
        s3: Any = storage  # django-storages' S3Storage, which has no types
        self.client = s3.connection.meta.client
        self.bucket = s3.bucket_name
        location = s3.location.strip("/")
        self.location = f"{location}/" if location else ""

    def check(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except Exception as error:  # botocore raises a dozen unrelated classes for "cannot reach"
            raise StorageUnavailable(f"S3 bucket {self.bucket!r} is unreachable: {error}") from error

    def objects(self, prefix: str) -> Iterator[StoredObject]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.location + prefix)
        try:
            for page in pages:
                for item in page.get("Contents", ()):
                    key = item["Key"][len(self.location) :]
                    yield StoredObject(key=key, modified=item["LastModified"], size=item["Size"])
        except Exception as error:  # a listing that breaks off is the storage going away, not one object
            raise StorageUnavailable(f"listing {prefix} in S3 bucket {self.bucket!r} failed: {error}") from error

    def delete(self, keys: list[str]) -> set[str]:
        request = {"Objects": [{"Key": self.location + key} for key in keys], "Quiet": True}
        try:
            response = self.client.delete_objects(Bucket=self.bucket, Delete=request)
        except Exception as error:  # one refused batch must not end the sweep
            for key in keys:
                _log_failure("delete", key, error)
            return set()
        failed = set()
        for problem in response.get("Errors", ()):
            key = problem.get("Key", "")[len(self.location) :]
            failed.add(key)
            _log_failure("delete", key, f"{problem.get('Code')}: {problem.get('Message')}")
        return set(keys) - failed

    def tidy(self, prefix: str) -> None:
        """S3 has no directories to remove."""


Backend = LocalBackend | S3Backend


def backend_for(storage: Storage) -> Backend:
    """The sweep's view of the configured storage: the local file system or an S3 bucket."""
    if isinstance(storage, FileSystemStorage):
        return LocalBackend(Path(storage.location))
    from storages.backends.s3 import S3Storage

    if isinstance(storage, S3Storage):
        return S3Backend(storage)
    raise StorageUnavailable(f"retention supports the local and S3 backends, not {type(storage).__name__}")


def storage_cleanup(
    *,
    windows: Mapping[str, int],
    storage: Storage | None = None,
    now: datetime | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> CleanupResult:
    """One retention sweep (STT-30…STT-32); ``dry_run`` counts what it would remove and changes nothing.

    ``windows`` maps each category of :data:`CATEGORIES` to its days (see
    :func:`retention_windows`); a category missing or at 0 is kept.  Errors on one
    file are logged and counted as ``failed``; :class:`StorageUnavailable` is raised
    when the storage cannot be listed.
    """
    now = now or timezone.now()
    backend = backend_for(storage or default_storage())
    backend.check()
    cutoffs = {name: now - timedelta(days=days) for name, days in windows.items() if days > 0}
    result = CleanupResult(backend=backend.name, dry_run=dry_run)

    prefixes = [prefix for name, prefix in PREFIXES.items() if name in cutoffs]
    if any(name in cutoffs for name in EXPORT_CATEGORIES):
        prefixes.append(EXPORTS_PREFIX)
    for prefix in prefixes:
        _sweep_prefix(backend, prefix, cutoffs, result, dry_run=dry_run, now=now, progress=progress)
        if not dry_run:
            backend.tidy(prefix)

    if "transcripts" in cutoffs:
        result.transcripts_purged = transcript_texts_purge(before=cutoffs["transcripts"], now=now, dry_run=dry_run)

    logger.info("storage.cleanup", extra={"event": "storage.cleanup", **result.as_dict()})
    return result


def _sweep_prefix(
    backend: Backend,
    prefix: str,
    cutoffs: Mapping[str, datetime],
    result: CleanupResult,
    *,
    dry_run: bool,
    now: datetime,
    progress: Progress | None,
) -> None:
    listed = expired = 0
    batch: list[StoredObject] = []
    for item in backend.objects(prefix):
        listed += 1
        category = category_of(item.key)
        if category is not None and category in cutoffs and item.modified < cutoffs[category]:
            expired += 1
            batch.append(item)
        if len(batch) >= BATCH_SIZE:
            _remove(backend, batch, result, dry_run=dry_run, now=now)
            batch = []
        if progress and listed % BATCH_SIZE == 0:
            progress(prefix, listed, expired)
    if batch:
        _remove(backend, batch, result, dry_run=dry_run, now=now)
    if progress:
        progress(prefix, listed, expired)


def _remove(
    backend: Backend, batch: list[StoredObject], result: CleanupResult, *, dry_run: bool, now: datetime
) -> None:
    """Database follow-up first, then the files (see the module docstring for why this order)."""
    keys = [item.key for item in batch]
    follow_up = call_assets_forget(keys=keys, now=now, dry_run=dry_run)
    result.audio_purged += follow_up["audio"]
    result.summaries_purged += follow_up["summaries"]
    deleted = set(keys) if dry_run else backend.delete(keys)
    for item in batch:
        category = category_of(item.key)
        assert category is not None  # only files of an expired category are batched
        counts = result.categories[category]
        if item.key in deleted:
            counts.removed += 1
            counts.bytes += item.size
        else:
            counts.failed += 1


def call_assets_forget(*, keys: Iterable[str], now: datetime, dry_run: bool = False) -> dict[str, int]:
    """STT-32 for files about to be deleted: their audio is purged, their summaries are gone.

    Returns how many records got ``audio_purged_at`` and how many summaries were
    emptied (or would be, in a dry run).  Transcript files need nothing here: their
    text in the database follows its own window (:func:`transcript_texts_purge`).
    """
    raw = [key for key in keys if category_of(key) == "raw"]
    summaries = [key for key in keys if category_of(key) == "summaries"]
    audio_purged = summaries_purged = 0
    with transaction.atomic():
        for chunk in _chunks(raw):
            records = CallRecord.objects.filter(storage_path__in=chunk, audio_purged_at__isnull=True)
            audio_purged += records.count() if dry_run else records.update(audio_purged_at=now, updated_at=now)
        for chunk in _chunks(summaries):
            rows = CallSummary.objects.filter(storage_path__in=chunk).exclude(bullets=[])
            records = CallRecord.objects.filter(summary_path__in=chunk)
            if dry_run:
                summaries_purged += rows.count()
                continue
            summaries_purged += rows.update(bullets=[])
            records.update(summary_path=None, updated_at=now)
    return {"audio": audio_purged, "summaries": summaries_purged}


def transcript_texts_purge(*, before: datetime, now: datetime, dry_run: bool = False) -> int:
    """STT-32: clear the text of transcripts last written before ``before`` and their records' previews.

    The text's age is ``updated_at``: only transcription writes a Transcript, and a
    re-transcription rewrites the text (and its file) in the same row, whose
    ``created_at`` stays that of the first run.

    ``text_full`` becomes ``""`` (the column is required), ``text_normalized`` null,
    and ``purged_at`` marks the row; engine, model and cost metadata stay.  Returns
    the number of transcripts purged (or that would be, in a dry run).
    """
    expired = Transcript.objects.filter(updated_at__lt=before, purged_at__isnull=True)
    if dry_run:
        return expired.count()
    purged = 0
    while ids := list(expired.values_list("pk", "call_record_id")[:DB_CHUNK]):
        with transaction.atomic():
            transcripts = Transcript.objects.filter(pk__in=[pk for pk, _ in ids], purged_at__isnull=True)
            purged += transcripts.update(text_full="", text_normalized=None, purged_at=now, updated_at=now)
            CallRecord.objects.filter(pk__in=[record for _, record in ids]).update(text_preview="", updated_at=now)
    return purged


def _chunks(values: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), DB_CHUNK):
        yield values[start : start + DB_CHUNK]


def _log_failure(action: str, key: str, error: object) -> None:
    logger.warning(
        "storage.cleanup_failed",
        extra={"event": "storage.cleanup_failed", "action": action, "key": key, "error": str(error)},
    )


def _log_walk_error(error: OSError) -> None:
    # The prefix not existing yet is the normal state of a young storage.
    if not isinstance(error, FileNotFoundError):
        _log_failure("list", str(error.filename), error)
