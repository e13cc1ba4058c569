"""Bitrix24 call export runs (CALL-01): their statuses, state machine (CALL-02) and how a run was started."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from calls.models.errors import InvalidTransition
from mastermobile.transitions import TransitionTable


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


# How a run was started (``options["trigger"]``), as staff read it.
RUN_TRIGGER_LABELS = {"manual": _("manual"), "cron": _("schedule"), "api": _("API")}


def run_trigger_label(trigger: str) -> str:
    return str(RUN_TRIGGER_LABELS.get(trigger, trigger))
