"""Bitrix24 call export runs and call records (spec 03, CALL-01…CALL-12)."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce, Length, Trim
from django.db.models.lookups import GreaterThan
from django.utils import timezone
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from mastermobile.transitions import TransitionTable


class InvalidTransition(Exception):
    """A status change the state machine does not allow."""


class CallExportStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    IN_PROGRESS = "in_progress", _("In progress")
    COMPLETED = "completed", _("Completed")
    ERROR = "error", _("Error")
    CANCELLED = "cancelled", _("Cancelled")


ACTIVE_EXPORT_STATUSES = (CallExportStatus.PENDING, CallExportStatus.IN_PROGRESS)

# CALL-02: completed and cancelled are final.
EXPORT_TRANSITIONS = TransitionTable(
    "call export",
    {
        CallExportStatus.PENDING: {CallExportStatus.IN_PROGRESS, CallExportStatus.CANCELLED},
        CallExportStatus.IN_PROGRESS: {CallExportStatus.COMPLETED, CallExportStatus.ERROR, CallExportStatus.CANCELLED},
        CallExportStatus.ERROR: {CallExportStatus.IN_PROGRESS},
        CallExportStatus.COMPLETED: set(),
        CallExportStatus.CANCELLED: set(),
    },
)


class CallExportQuerySet(models.QuerySet):
    def active(self) -> CallExportQuerySet:
        return self.filter(status__in=ACTIVE_EXPORT_STATUSES)


class CallExport(models.Model):
    """One export run over a fixed period (CALL-01)."""

    run_id = models.UUIDField(_("run id"), primary_key=True, default=uuid.uuid4, editable=False)
    period_from = models.DateTimeField(_("period from"))
    period_to = models.DateTimeField(_("period to"))
    status = models.CharField(
        _("status"), max_length=16, choices=CallExportStatus.choices, default=CallExportStatus.PENDING
    )
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("started by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="call_exports",
        help_text=_("Empty for system and scheduled runs."),
    )
    options = models.JSONField(_("options"), default=dict, blank=True)
    checkpoint = models.JSONField(
        _("checkpoint"), default=dict, blank=True, help_text=_("Listing offset and page count.")
    )
    error_message = models.TextField(
        _("error message"), blank=True, default="", help_text=_("Why the run itself failed; secrets masked.")
    )
    listed_total = models.PositiveIntegerField(
        _("calls in Bitrix24"), null=True, blank=True, help_text=_("The `total` Bitrix24 reported for the period.")
    )
    total_calls = models.PositiveIntegerField(_("calls"), default=0)
    processed_calls = models.PositiveIntegerField(_("processed"), default=0)
    downloaded_calls = models.PositiveIntegerField(
        _("recordings downloaded"), default=0, help_text=_("Calls whose recording is stored.")
    )
    error_calls = models.PositiveIntegerField(_("errors"), default=0)
    missing_audio_calls = models.PositiveIntegerField(_("missing audio"), default=0)
    skipped_calls = models.PositiveIntegerField(_("skipped"), default=0)
    skipped_by_reason = models.JSONField(
        _("skipped by reason"), default=dict, blank=True, help_text=_("Skipped calls counted per reason code.")
    )
    total_duration_sec = models.PositiveBigIntegerField(_("total call duration, s"), default=0)
    transcribed_minutes = models.PositiveIntegerField(_("transcribed minutes"), default=0)
    total_cost = models.DecimalField(_("cost"), max_digits=12, decimal_places=2, default=0)
    currency_code = models.CharField(_("currency"), max_length=3, default="USD")
    package_built_at = models.DateTimeField(_("export package built at"), null=True, blank=True)
    package_error = models.TextField(
        _("export package error"), blank=True, default="", help_text=_("Why the last package build failed.")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = CallExportQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at"]
        verbose_name = _("call export run")
        verbose_name_plural = _("call export runs")
        constraints = [
            models.CheckConstraint(condition=Q(period_to__gte=F("period_from")), name="callexport_period_order"),
            models.CheckConstraint(condition=Q(status__in=CallExportStatus.values), name="callexport_status_valid"),
            # CALL-04: one active run per period and actor; NULL actor (cron) counts as one actor.
            models.UniqueConstraint(
                Coalesce("actor", Value(0)),
                "period_from",
                "period_to",
                condition=Q(status__in=ACTIVE_EXPORT_STATUSES),
                name="callexport_one_active_per_period",
            ),
        ]
        indexes = [
            models.Index(
                fields=["status"],
                condition=Q(status__in=["pending", "in_progress", "error"]),
                name="callexport_open_status",
            ),
            models.Index(fields=["period_from", "period_to"], name="callexport_period"),
        ]

    def __str__(self) -> str:
        return gettext("Export %(from)s – %(to)s (%(status)s)") % {
            "from": f"{timezone.localtime(self.period_from):%d.%m.%Y}",
            "to": f"{timezone.localtime(self.period_to):%d.%m.%Y}",
            "status": self.get_status_display(),
        }

    @property
    def is_dry_run(self) -> bool:
        return bool(self.options.get("dry_run"))

    @property
    def is_final(self) -> bool:
        return EXPORT_TRANSITIONS.is_final(self.status)

    def can_transition_to(self, status: str) -> bool:
        return status in EXPORT_TRANSITIONS[self.status]

    def transition_to(self, status: str) -> None:
        """Change ``status`` in memory, enforcing CALL-02; the caller saves."""
        if not self.can_transition_to(status):
            raise InvalidTransition(
                gettext("A run cannot go from “%(source)s” to “%(target)s”.")
                % {"source": CallExportStatus(self.status).label, "target": CallExportStatus(status).label}
            )
        self.status = status
        if status in (CallExportStatus.COMPLETED, CallExportStatus.ERROR, CallExportStatus.CANCELLED):
            self.finished_at = timezone.now()
        elif status == CallExportStatus.IN_PROGRESS:
            self.finished_at = None

    @property
    def progress_percent(self) -> float:
        """Final-state records ÷ total (OPS-12)."""
        if self.is_dry_run:
            return 100.0 if self.status == CallExportStatus.COMPLETED else 0.0
        if not self.total_calls:
            return 100.0 if self.status == CallExportStatus.COMPLETED else 0.0
        return round(100.0 * self.processed_calls / self.total_calls, 1)


class CallDirection(models.TextChoices):
    INBOUND = "inbound", _("Inbound")
    OUTBOUND = "outbound", _("Outbound")
    INTERNAL = "internal", _("Internal")


class CallRecordStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DOWNLOADING = "downloading", _("Downloading")
    DOWNLOADED = "downloaded", _("Downloaded")
    TRANSCRIBING = "transcribing", _("Transcribing")
    COMPLETED = "completed", _("Completed")
    SKIPPED = "skipped", _("Skipped")
    ERROR = "error", _("Error")
    MISSING_AUDIO = "missing_audio", _("Missing audio")


S = CallRecordStatus
# CALL-11, plus two moves of the transcription stage the table implies (docs/decisions.md):
# ``transcribing → downloaded`` while the job waits for a retry or after a dead worker
# (CALL-17 "put back to the previous state"), and ``transcribing → skipped`` for a call
# without speech (``no_speech``), which is only known once the audio is decoded.
RECORD_TRANSITIONS = TransitionTable(
    "call record",
    {
        S.PENDING: {S.DOWNLOADING, S.SKIPPED},
        S.DOWNLOADING: {S.DOWNLOADED, S.ERROR, S.MISSING_AUDIO},
        S.ERROR: {S.DOWNLOADING, S.MISSING_AUDIO, S.ERROR, S.DOWNLOADED},
        S.DOWNLOADED: {S.SKIPPED, S.TRANSCRIBING},
        S.TRANSCRIBING: {S.COMPLETED, S.ERROR, S.DOWNLOADED, S.SKIPPED},
        S.SKIPPED: {S.PENDING, S.DOWNLOADED},
        S.COMPLETED: {S.TRANSCRIBING},
        S.MISSING_AUDIO: set(),
    },
)
MAX_DOWNLOAD_ATTEMPTS = 5
# An ``error`` with one of these codes has used up its attempts and is final.
FINAL_ERROR_CODES = ("max_attempts",)
# What the codes in ``CallRecord.error_code`` mean to staff: skip reasons and download failures.
RECORD_CODE_LABELS = {
    "no_recording": _("no recording in Bitrix24"),
    "stt_disabled": _("transcription is off"),
    "max_attempts": _("attempts used up"),
    "stalled": _("processing stalled"),
    "integration.unavailable": _("Bitrix24 unavailable, retried later"),
    "duration_limit_exceeded": _("longer than the transcription limit"),
    "no_speech": _("no speech in the recording"),
    "audio_conversion_failed": _("audio could not be decoded"),
    "max_retries": _("transcription retries used up"),
    "unexpected_error": _("unexpected error"),
    "file_too_large": _("file too large for the provider"),
    "unsupported_format": _("format not recognised by the provider"),
    "transcription_timeout": _("transcription timed out"),
    "http_401": _("provider refused the key (401)"),
    "http_429": _("provider rate limit (429)"),
    "missing_record": _("record deleted"),
    "http_403": _("Bitrix24 refused access (403)"),
    "http_404": _("recording not found (404)"),
    "invalid_audio": _("not an audio file"),
    "storage_error": _("storage error"),
    "timeout": pgettext_lazy("error", "timeout"),
    "network_error": _("network error"),
}


# The codes the transcription stage writes (STT-56), for the jobs page's filter.
TRANSCRIPTION_CODES = (
    "no_speech",
    "duration_limit_exceeded",
    "stt_disabled",
    "audio_conversion_failed",
    "max_retries",
    "unexpected_error",
    "file_too_large",
    "unsupported_format",
    "transcription_timeout",
    "network_error",
    "http_401",
    "http_429",
    "integration.unavailable",
    "storage_error",
    "stalled",
    "missing_record",
)


def record_code_label(code: str | None) -> str:
    """The staff-facing meaning of an ``error_code``; ``http_<status>`` reads as an HTTP error, others as they are."""
    if not code:
        return ""
    if code in RECORD_CODE_LABELS:
        return str(RECORD_CODE_LABELS[code])
    if code.startswith("http_") and code[5:].isdigit():
        return gettext("HTTP error %(status)s") % {"status": code[5:]}
    return code


# How a run was started (``options["trigger"]``), as staff read it.
RUN_TRIGGER_LABELS = {"manual": _("manual"), "cron": _("schedule"), "api": _("API")}


def run_trigger_label(trigger: str) -> str:
    return str(RUN_TRIGGER_LABELS.get(trigger, trigger))


OPEN_RECORD_STATUSES = (S.PENDING, S.DOWNLOADING, S.DOWNLOADED, S.TRANSCRIBING)
# An ``error`` with stored audio failed in the transcription stage: its job is dead-lettered,
# so the record waits for an operator's requeue, not for a retry (STT-07).
FINAL_RECORD_Q = (
    Q(status__in=[S.COMPLETED, S.SKIPPED, S.MISSING_AUDIO])
    | Q(status=S.ERROR, error_code__in=FINAL_ERROR_CODES)
    | Q(status=S.ERROR, checksum__isnull=False)
)


class CallRecord(models.Model):
    """One Bitrix24 call or recording, unique across all runs (CALL-05…CALL-07)."""

    id = models.BigAutoField(_("ID"), primary_key=True)
    run = models.ForeignKey(
        CallExport,
        verbose_name=_("run"),
        on_delete=models.PROTECT,
        related_name="records",
        help_text=_("Run that last processed it."),
    )
    call_id = models.CharField(_("call id"), max_length=255)
    record_id = models.CharField(_("recording id"), max_length=255, null=True, blank=True)
    direction = models.CharField(_("direction"), max_length=16, choices=CallDirection.choices)
    from_number = models.CharField(_("from"), max_length=64)
    to_number = models.CharField(_("to"), max_length=64)
    employee_id = models.CharField(_("employee"), max_length=128, null=True, blank=True)
    call_started_at = models.DateTimeField(_("call started at"), null=True, blank=True)
    duration_sec = models.PositiveIntegerField(_("duration, s"))
    raw_payload = models.JSONField(_("Bitrix24 item"), default=dict, blank=True)

    recording_url = models.TextField(_("recording URL"), null=True, blank=True)
    storage_path = models.CharField(
        _("storage key"), max_length=500, null=True, blank=True, help_text=_("Storage key of the audio.")
    )
    transcript_path = models.CharField(_("transcript key"), max_length=500, null=True, blank=True)
    summary_path = models.CharField(_("summary key"), max_length=500, null=True, blank=True)

    text_preview = models.TextField(_("text preview"), blank=True, default="")
    language = models.CharField(_("language"), max_length=8, blank=True, default="")
    checksum = models.CharField(
        _("checksum"), max_length=64, null=True, blank=True, help_text=_("SHA-256 of the audio, hex.")
    )
    audio_duration_sec = models.FloatField(_("audio duration, s"), null=True, blank=True)
    audio_format = models.CharField(
        _("audio format"),
        max_length=16,
        blank=True,
        default="",
        help_text=_("Container found in the bytes, e.g. mp3, wav."),
    )
    audio_codec = models.CharField(_("audio codec"), max_length=32, blank=True, default="")

    transcription_cost = models.DecimalField(_("transcription cost"), max_digits=12, decimal_places=6, default=0)
    currency_code = models.CharField(_("currency"), max_length=3, default="USD")

    status = models.CharField(
        _("status"), max_length=16, choices=CallRecordStatus.choices, default=CallRecordStatus.PENDING
    )
    error_code = models.CharField(_("error code"), max_length=64, null=True, blank=True)
    error_message = models.TextField(_("error message"), blank=True, default="")
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    download_attempts = models.PositiveIntegerField(_("download attempts"), default=0)
    stt_attempts = models.PositiveIntegerField(_("transcription attempts"), default=0)
    last_attempt_at = models.DateTimeField(_("last attempt at"), null=True, blank=True)
    audio_purged_at = models.DateTimeField(_("audio purged at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["call_started_at", "id"]
        verbose_name = _("call record")
        verbose_name_plural = _("call records")
        permissions = [
            ("export_callrecord", _("Can export call records")),
            ("view_unmasked_pii", _("Can see unmasked phone numbers")),
        ]
        constraints = [
            models.UniqueConstraint(F("call_id"), Coalesce("record_id", Value("")), name="callrecord_call_record_key"),
            models.UniqueConstraint(
                fields=["call_id", "recording_url"],
                condition=Q(recording_url__isnull=False),
                name="callrecord_call_recording_url_key",
            ),
            models.CheckConstraint(
                condition=GreaterThan(Length(Trim("from_number")), 0), name="callrecord_from_number_not_blank"
            ),
            models.CheckConstraint(
                condition=GreaterThan(Length(Trim("to_number")), 0), name="callrecord_to_number_not_blank"
            ),
            models.CheckConstraint(condition=Q(duration_sec__gte=0), name="callrecord_duration_not_negative"),
            models.CheckConstraint(condition=Q(status__in=CallRecordStatus.values), name="callrecord_status_valid"),
            models.CheckConstraint(condition=Q(direction__in=CallDirection.values), name="callrecord_direction_valid"),
        ]
        indexes = [
            models.Index(
                fields=["status", "run"],
                condition=Q(status__in=["pending", "downloading", "transcribing", "error"]),
                name="callrecord_open_status_run",
            ),
            models.Index(fields=["checksum"], condition=Q(checksum__isnull=False), name="callrecord_checksum"),
            models.Index(fields=["call_started_at"], name="callrecord_started_at"),
            models.Index(fields=["employee_id"], name="callrecord_employee"),
            # The admin at a million rows (docs/performance.md): the search box's recording id and the
            # list's "reason" filter.  The numbers' trigram indexes are PostgreSQL's only (calls.0007).
            models.Index(fields=["record_id"], name="callrecord_record_id"),
            models.Index(fields=["error_code"], condition=Q(error_code__isnull=False), name="callrecord_error_code"),
        ]

    def __str__(self) -> str:
        return f"{self.call_id} ({self.get_status_display()})"

    @property
    def has_recording(self) -> bool:
        return bool(self.recording_url or self.record_id)

    @property
    def is_final(self) -> bool:
        return self.status in (S.COMPLETED, S.SKIPPED, S.MISSING_AUDIO) or (
            self.status == S.ERROR and (self.error_code in FINAL_ERROR_CODES or self.checksum is not None)
        )

    def can_transition_to(self, status: str) -> bool:
        return RECORD_TRANSITIONS.allows(self.status, status)

    def transition_to(self, status: str) -> None:
        """Change ``status`` in memory, enforcing CALL-11; the caller saves."""
        if not self.can_transition_to(status):
            raise InvalidTransition(
                gettext("A record cannot go from “%(source)s” to “%(target)s”.")
                % {"source": CallRecordStatus(self.status).label, "target": CallRecordStatus(status).label}
            )
        self.status = status


class Transcript(models.Model):
    """The recognised text of one recording (CALL-13); the database copy is the source of truth.

    On PostgreSQL the table also has ``search_vector``, a generated column
    ``to_tsvector('russian', text_full)`` with a GIN index (migrations
    ``calls.0004`` and ``calls.0009``), not declared here, so SQLite databases
    migrate without it; :mod:`calls.selectors.search` names it.
    """

    call_record = models.OneToOneField(
        CallRecord, verbose_name=_("call record"), on_delete=models.CASCADE, related_name="transcript"
    )
    text_full = models.TextField(_("text"))
    text_normalized = models.TextField(_("normalised text"), null=True, blank=True)
    metadata = models.JSONField(
        _("metadata"), default=dict, blank=True, help_text=_("Engine, model, language, chunks, seconds, request ids.")
    )
    purged_at = models.DateTimeField(
        _("text purged at"), null=True, blank=True, help_text=_("Set when retention cleared the text (STT-32).")
    )
    # The call's start, copied from the record: the search walks the newest matching calls on this
    # table's own index and stops after its ranking window (calls.selectors.search.SEARCH_RANK_WINDOW).
    call_started_at = models.DateTimeField(_("call started at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("transcript")
        verbose_name_plural = _("transcripts")
        # PostgreSQL also has transcript_newest_calls (call_started_at DESC NULLS LAST, id DESC),
        # created by migration calls.0010: SQLite cannot index NULLS LAST, and searches by icontains.

    def __str__(self) -> str:
        return gettext("Transcript of call %(call)s") % {"call": self.call_record.call_id}

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.call_started_at is None and self.call_record_id is not None:
            self.call_started_at = self.call_record.call_started_at
        super().save(*args, **kwargs)


class CallSummary(models.Model):
    """Bullets of one call (CALL-14); regenerating replaces the row, so the latest version wins."""

    call_record = models.OneToOneField(
        CallRecord, verbose_name=_("call record"), on_delete=models.CASCADE, related_name="summary"
    )
    bullets = models.JSONField(_("bullets"), default=list)
    storage_path = models.CharField(_("summary key"), max_length=500)
    engine = models.CharField(_("engine"), max_length=32, default="extractive")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("call summary")
        verbose_name_plural = _("call summaries")

    def __str__(self) -> str:
        return gettext("Summary of call %(call)s") % {"call": self.call_record.call_id}


class TranscriptionJobStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    RETRY_WAIT = "retry_wait", _("Waiting for retry")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    DEAD_LETTER = "dead_letter", _("Dead letter")
    SKIPPED = "skipped", _("Skipped")


J = TranscriptionJobStatus
# CALL-15, plus ``running → running`` being impossible: a job a dead worker left ``running``
# goes to ``retry_wait`` (the supervisor), so its next pick-up is an ordinary claim.
JOB_TRANSITIONS = TransitionTable(
    "transcription job",
    {
        J.QUEUED: {J.RUNNING, J.SKIPPED},
        J.RUNNING: {J.SUCCEEDED, J.RETRY_WAIT, J.DEAD_LETTER, J.SKIPPED},
        J.RETRY_WAIT: {J.RUNNING, J.SKIPPED},
        J.DEAD_LETTER: {J.QUEUED},
        J.SUCCEEDED: {J.QUEUED},
        J.FAILED: set(),
        J.SKIPPED: {J.QUEUED},
    },
)
# A job in one of these still has work to do; its record is not final.
OPEN_JOB_STATUSES = (J.QUEUED, J.RUNNING, J.RETRY_WAIT)
DEDUP_KEY_MAX_LENGTH = 600


class TranscriptionJob(models.Model):
    """The transcription stage of one recording (CALL-15): state that survives restarts.

    ``id`` is also the dead-letter ``entry_id``.  ``dedup_key`` makes enqueueing
    idempotent: one job per recording and engine.
    """

    id = models.UUIDField(_("ID"), primary_key=True, default=uuid.uuid4, editable=False)
    call_record = models.ForeignKey(
        CallRecord,
        verbose_name=_("call record"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="transcription_jobs",
    )
    call_id = models.CharField(_("call id"), max_length=255)
    recording_url = models.TextField(_("recording URL"), blank=True, default="")
    engine = models.CharField(_("engine"), max_length=32)
    model = models.CharField(_("model"), max_length=64, blank=True, default="")
    language = models.CharField(_("language"), max_length=8, blank=True, default="")
    dedup_key = models.CharField(_("deduplication key"), max_length=DEDUP_KEY_MAX_LENGTH, unique=True)
    status = models.CharField(_("status"), max_length=16, choices=TranscriptionJobStatus.choices, default=J.QUEUED)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    last_status_code = models.PositiveIntegerField(_("last HTTP status"), null=True, blank=True)
    last_error_code = models.CharField(_("last error code"), max_length=64, blank=True, default="")
    last_error_message = models.TextField(_("last error message"), blank=True, default="")
    dlq_reason = models.TextField(_("dead-letter reason"), blank=True, default="")
    failed_at = models.DateTimeField(_("failed at"), null=True, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    duration_seconds = models.FloatField(_("job duration, s"), null=True, blank=True)
    audio_seconds = models.FloatField(_("billed audio, s"), null=True, blank=True)
    billable_minutes = models.PositiveIntegerField(_("billable minutes"), default=0)
    cost = models.DecimalField(_("cost"), max_digits=12, decimal_places=6, default=0)
    dispatched_at = models.DateTimeField(
        _("handed to a worker at"),
        null=True,
        blank=True,
        help_text=_("When a task was queued for it; keeps the same job from being queued twice."),
    )
    history = models.JSONField(
        _("history"), default=list, blank=True, help_text=_("Requeues and re-transcriptions: who, when, why.")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("transcription job")
        verbose_name_plural = _("transcription jobs")
        constraints = [
            models.CheckConstraint(condition=Q(status__in=TranscriptionJobStatus.values), name="sttjob_status_valid"),
        ]
        indexes = [
            models.Index(
                fields=["status", "next_attempt_at"],
                condition=Q(status__in=["queued", "running", "retry_wait"]),
                name="sttjob_open_status",
            ),
            models.Index(fields=["-failed_at"], condition=Q(status="dead_letter"), name="sttjob_dead_letter"),
            # The hand-out under the claim lock (calls.transcription_queue): the next ready jobs in order,
            # and the few handed out within the last minute, without reading every queued job.
            models.Index(
                fields=["next_attempt_at", "created_at"],
                condition=Q(status__in=["queued", "retry_wait"]),
                name="sttjob_ready",
            ),
            models.Index(
                fields=["dispatched_at"],
                condition=Q(status__in=["queued", "retry_wait"], dispatched_at__isnull=False),
                name="sttjob_handed_out",
            ),
        ]

    def __str__(self) -> str:
        return gettext("Transcription of call %(call)s (%(status)s)") % {
            "call": self.call_id,
            "status": self.get_status_display(),
        }

    @staticmethod
    def dedup_key_for(call_id: str, recording_url: str | None, engine: str) -> str:
        """``<call_id>|<recording_url>|<engine>``; an URL too long for the column is replaced by its SHA-256."""
        url = recording_url or ""
        if len(call_id) + len(url) + len(engine) + 2 > DEDUP_KEY_MAX_LENGTH:
            url = "sha256:" + hashlib.sha256(url.encode()).hexdigest()
        return f"{call_id}|{url}|{engine}"


class QaVerdict(models.TextChoices):
    OK = "ok", _("OK")
    ISSUE = "issue", _("Issue")


class QaReview(models.Model):
    """A staff verdict on one transcribed record of a report's QA sample (EXP-08 §7)."""

    call_record = models.OneToOneField(
        CallRecord, verbose_name=_("call record"), on_delete=models.CASCADE, related_name="qa_review"
    )
    verdict = models.CharField(_("verdict"), max_length=8, choices=QaVerdict.choices)
    comment = models.TextField(_("comment"), blank=True, default="")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), default=timezone.now)

    class Meta:
        verbose_name = _("QA review")
        verbose_name_plural = _("QA reviews")
        constraints = [models.CheckConstraint(condition=Q(verdict__in=QaVerdict.values), name="qareview_verdict_valid")]

    def __str__(self) -> str:
        return f"{self.call_record.call_id}: {self.verdict}"


class RegistryDownload(models.Model):
    """EXP-03: one download of the call registry — who, when, through what, with which filters, how many rows."""

    class Channel(models.TextChoices):
        API = "api", _("API")
        ADMIN = "admin", _("Admin")
        COMMAND = "command", _("Command")

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        JSON = "json", "JSON"

    created_at = models.DateTimeField(_("downloaded at"), default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    principal = models.CharField(
        _("who"), max_length=255, help_text=_("The staff user, the integration's token subject or the system user.")
    )
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    format = models.CharField(_("format"), max_length=8, choices=Format.choices)
    endpoint = models.CharField(_("endpoint"), max_length=200)
    filters = models.JSONField(_("filters"), default=dict, blank=True)
    unmasked = models.BooleanField(_("unmasked personal data"), default=False)
    row_count = models.PositiveIntegerField(_("rows"), null=True, blank=True)
    finished_at = models.DateTimeField(
        _("finished at"), null=True, blank=True, help_text=_("Empty when the download broke off before the end.")
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("registry download")
        verbose_name_plural = _("registry downloads")
        constraints = [
            models.CheckConstraint(
                condition=Q(channel__in=["api", "admin", "command"]), name="registrydownload_channel_valid"
            ),
            models.CheckConstraint(condition=Q(format__in=["csv", "json"]), name="registrydownload_format_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.principal} {self.format} {self.created_at:%Y-%m-%d %H:%M:%S}"
