"""Platform models shared by every API app."""

from __future__ import annotations

from datetime import timedelta

from django.db import models
from django.utils.translation import gettext_lazy as _

IDEMPOTENCY_TTL = timedelta(hours=72)
IDEMPOTENCY_KEY_MAX_LENGTH = 128


class IdempotencyRecord(models.Model):
    """One claimed ``Idempotency-Key`` and, once the operation succeeded, its response (RET-07).

    A row is inserted in state ``in_progress`` before the operation runs (the
    unique constraint is the lock) and switched to ``completed`` in the same
    transaction as the operation.  Failed operations delete their row, so only
    successful responses are ever replayed.
    """

    class State(models.TextChoices):
        IN_PROGRESS = "in_progress", _("In progress")
        COMPLETED = "completed", _("Completed")

    key = models.CharField(_("key"), max_length=IDEMPOTENCY_KEY_MAX_LENGTH)
    endpoint = models.CharField(
        _("endpoint"), max_length=255, help_text=_("Method and route template, e.g. 'POST /api/v1/returns'.")
    )
    actor_id = models.CharField(
        _("caller"), max_length=255, help_text=_("The authenticated subject, e.g. 'jwt:courier-001'.")
    )
    request_fingerprint = models.CharField(
        _("request fingerprint"), max_length=64, help_text=_("SHA-256 of method, path parameters and body.")
    )
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(_("response status"), null=True, blank=True)
    response_body = models.TextField(
        _("response body"),
        blank=True,
        default="",
        help_text=_("The JSON body exactly as first sent; stored as text so replays are byte-for-byte identical."),
    )
    response_headers = models.JSONField(_("response headers"), default=dict, blank=True)
    resource_ref = models.CharField(_("resource"), max_length=128, null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(_("created at"))
    expires_at = models.DateTimeField(_("expires at"), db_index=True)

    class Meta:
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        constraints = [
            models.UniqueConstraint(fields=["key", "endpoint", "actor_id"], name="idempotency_key_endpoint_actor_uniq"),
            models.CheckConstraint(
                condition=models.Q(state__in=["in_progress", "completed"]), name="idempotency_state_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(expires_at__gt=models.F("created_at")), name="idempotency_expires_after_created"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.endpoint} {self.key} ({self.state})"
