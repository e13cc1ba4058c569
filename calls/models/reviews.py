"""Staff verdicts on the transcribed records of a report's QA sample (EXP-08 §7)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from calls.models.records import CallRecord


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
