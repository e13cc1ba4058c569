"""Storage keys and atomic, checksummed writes of call assets (STT-20…STT-23).

Both backends get identical keys.  The local backend writes a temporary file
next to the target and renames it; any other backend (S3) receives a spooled
temporary file through django-storages, which uploads it in parts.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, storages

SPOOL_MAX_BYTES = 8 * 1024 * 1024
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_HTML_MARKERS = (b"<!doctype", b"<html", b"<head", b"<body", b"<?xml", b"<")


def audio_content_type(head: bytes) -> str:
    """The media type of audio from its first bytes (magic numbers), whatever its storage key says."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[:4] == b"OggS":
        return "audio/ogg"
    if head[:4] == b"fLaC":
        return "audio/flac"
    if head[4:8] == b"ftyp":
        return "audio/mp4"
    if head[:4] == b"\x1aE\xdf\xa3":
        return "audio/webm"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    return "application/octet-stream"


# STT-20: the audio key's extension follows the bytes; ``.mp3`` when they tell nothing.
_EXTENSION_BY_CONTENT_TYPE = {
    "audio/wav": ".wav",
    "audio/ogg": ".ogg",
    "audio/flac": ".flac",
    "audio/mp4": ".m4a",
    "audio/webm": ".webm",
    "audio/mpeg": ".mp3",
}


def audio_extension(head: bytes) -> str:
    return _EXTENSION_BY_CONTENT_TYPE.get(audio_content_type(head), ".mp3")


class InvalidAudio(Exception):
    """An empty body or an HTML page where audio was expected (STT-23)."""


@dataclass(frozen=True)
class StoredFile:
    key: str
    sha256: str
    size: int


def default_storage() -> Storage:
    """The configured storage, looked up when needed (tests swap STORAGES)."""
    return storages["default"]


# Two parts of a file name (call id, recording id) stay within the 255 bytes a file system allows.
SANITISED_MAX_LENGTH = 100


def sanitise(value: str) -> str:
    """STT-21: letters, digits, ``-`` and ``_`` only, trimmed; SHA-256 of the original when nothing is left.

    A result longer than :data:`SANITISED_MAX_LENGTH` keeps its head and a
    hash of the original, so that distinct ids keep distinct file names.
    """
    cleaned = _UNSAFE.sub("-", value).strip("-_")
    if cleaned and len(cleaned) <= SANITISED_MAX_LENGTH:
        return cleaned
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{cleaned[: SANITISED_MAX_LENGTH - 17]}-{digest[:16]}" if cleaned else digest


def _suffix(call_id: str, record_id: str | None, recording_url: str | None) -> str:
    if record_id:
        return sanitise(record_id)
    if recording_url:
        return hashlib.sha256(recording_url.encode()).hexdigest()
    return hashlib.sha256(call_id.encode()).hexdigest()


def _day(call_started_at: datetime | None, now: datetime | None) -> str:
    moment = call_started_at or now or datetime.now(UTC)
    return moment.astimezone(UTC).strftime("%Y/%m/%d")


def audio_key(
    *,
    call_id: str,
    record_id: str | None,
    recording_url: str | None,
    call_started_at: datetime | None,
    now=None,
    extension: str = ".mp3",
) -> str:
    """``raw/YYYY/MM/DD/call_<call_id>_<suffix><extension>`` (STT-20); the extension comes from :func:`audio_extension`."""
    return (
        f"raw/{_day(call_started_at, now)}/"
        f"call_{sanitise(call_id)}_{_suffix(call_id, record_id, recording_url)}{extension}"
    )


def transcript_key(
    *, call_id: str, record_id: str | None, recording_url: str | None, call_started_at: datetime | None, now=None
) -> str:
    """``transcripts/YYYY/MM/DD/call_<call_id>_<suffix>.txt`` (STT-20)."""
    return (
        f"transcripts/{_day(call_started_at, now)}/"
        f"call_{sanitise(call_id)}_{_suffix(call_id, record_id, recording_url)}.txt"
    )


def summary_key(*, call_id: str, created_at: datetime) -> str:
    """``summaries/YYYY/MM/DD/call_<call_id>_<YYYYMMDDTHHMMSSZ>.md``, dated by creation (STT-20)."""
    moment = created_at.astimezone(UTC)
    return f"summaries/{moment:%Y/%m/%d}/call_{sanitise(call_id)}_{moment:%Y%m%dT%H%M%SZ}.md"


def _validated(chunks: Iterable[bytes], content_type: str | None) -> Iterator[bytes]:
    """Yield the body unchanged after checking its first bytes are not empty and not HTML."""
    iterator = iter(chunks)
    head = b""
    for chunk in iterator:
        if chunk:
            head = chunk
            break
    if not head:
        raise InvalidAudio("empty body instead of audio")
    if (content_type or "").split(";")[0].strip().lower() == "text/html" or head.lstrip()[:1] == b"<":
        raise InvalidAudio(f"HTML body instead of audio ({content_type or 'no content type'})")
    yield head
    yield from iterator


def save_stream(
    key: str, chunks: Iterable[bytes], *, content_type: str | None = None, storage: Storage | None = None
) -> StoredFile:
    """Write ``chunks`` to ``key`` atomically; return the SHA-256 and size.  Nothing is stored on error."""
    return _write(key, _validated(chunks, content_type), storage or default_storage())


def save_text(key: str, text: str, *, storage: Storage | None = None) -> StoredFile:
    """Write UTF-8 text (no BOM) to ``key`` atomically: transcripts, summaries, reports."""
    return _write(key, [text.encode("utf-8")], storage or default_storage())


def _write(key: str, body: Iterable[bytes], storage: Storage) -> StoredFile:
    digest = hashlib.sha256()
    size = 0
    if isinstance(storage, FileSystemStorage):
        target = Path(storage.path(key))
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in body:
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return StoredFile(key=key, sha256=digest.hexdigest(), size=size)
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_BYTES) as spool:
        for chunk in body:
            digest.update(chunk)
            size += len(chunk)
            spool.write(chunk)
        spool.seek(0)
        saved = storage.save(key, File(spool, name=key))
    if saved != key:
        raise OSError(f"storage renamed {key} to {saved}; file_overwrite must be on")
    return StoredFile(key=key, sha256=digest.hexdigest(), size=size)


def storage_writable(storage: Storage | None = None) -> bool:
    """CALL-20: a probe write and delete; False when the backend refuses."""
    storage = storage or default_storage()
    key = f"exports/.probe-{os.getpid()}-{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
    try:
        save_stream(key, [b"probe"], storage=storage)
        storage.delete(key)
    except Exception:  # any backend failure means "not writable"
        return False
    return True
