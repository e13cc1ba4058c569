"""Downloads of the call registry (EXP-03): who, when, through what, with which filters."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


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
