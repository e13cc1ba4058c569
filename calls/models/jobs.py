"""Transcription jobs (CALL-15): the transcription stage of one recording, its statuses and state machine."""

from __future__ import annotations

import hashlib
import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from calls.models.records import CallRecord
from mastermobile.transitions import TransitionTable


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
