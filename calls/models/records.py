"""Call records (CALL-05…CALL-07): one Bitrix24 call or recording, its statuses, state machine (CALL-11) and error codes."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce, Length, Trim
from django.db.models.lookups import GreaterThan
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from calls.models.errors import InvalidTransition
from calls.models.exports import CallExport
from mastermobile.transitions import TransitionTable


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
