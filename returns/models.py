"""Couriers, returns and their lines (RET-01…RET-06)."""

from __future__ import annotations

import uuid

from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Length, Trim
from django.db.models.lookups import GreaterThan, LessThanOrEqual
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from mastermobile.history import HistoricalRecords
from mastermobile.transitions import TransitionTable

COURIER_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
IMEI_PATTERN = r"^[0-9]{14,16}$"
MAX_LINES = 500
MAX_QTY = 10_000
MAX_PHOTOS = 20
COMMENT_MAX_LENGTH = 2000
REASON_NOTE_MAX_LENGTH = 1000
STATUS_REASON_MAX_LENGTH = 500


def _history_user(request=None, **kwargs):
    """Staff users are recorded as the history user; API callers go into the change reason."""
    from django.contrib.auth.models import AbstractBaseUser

    user = getattr(request, "user", None)
    return user if isinstance(user, AbstractBaseUser) else None


def _not_blank(field: str) -> GreaterThan:
    return GreaterThan(Length(Trim(field)), 0)


class Courier(models.Model):
    """A courier as 1C and Bitrix24 know it (RET-01)."""

    courier_id = models.CharField(
        primary_key=True,
        max_length=64,
        validators=[RegexValidator(COURIER_ID_PATTERN, _("Use 1–64 letters, digits, '-' or '_'."))],
        verbose_name=_("courier id"),
        help_text=_("External id, e.g. courier-001."),
    )
    display_name = models.CharField(_("name"), max_length=200)
    phone = models.CharField(_("phone"), max_length=32, null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    b24_user_id = models.CharField(_("Bitrix24 user id"), max_length=64, null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["display_name", "courier_id"]
        verbose_name = _("courier")
        verbose_name_plural = _("couriers")
        constraints = [
            models.CheckConstraint(condition=models.Q(courier_id__regex=COURIER_ID_PATTERN), name="courier_id_format"),
            models.CheckConstraint(condition=_not_blank("display_name"), name="courier_display_name_not_blank"),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.courier_id})"


class Return(models.Model):
    """Goods a courier brought back from a customer (RET-03)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        ACCEPTED = "accepted", _("Accepted")
        REJECTED = "rejected", _("Rejected")
        CANCELLED = "cancelled", _("Cancelled")

    class Source(models.TextChoices):
        WIDGET = "widget", _("Website widget")
        CALL_CENTER = "call_center", _("Call centre")
        WAREHOUSE = "warehouse", _("Warehouse")

    # RET-04: where each status may go next; rejected and cancelled are final.
    # The history of changes needs ``save()``, so ``services.return_set_status`` checks the
    # table under a row lock instead of using its guarded ``move``.
    TRANSITIONS = TransitionTable(
        "return",
        {
            Status.PENDING: {Status.ACCEPTED, Status.REJECTED, Status.CANCELLED},
            Status.ACCEPTED: {Status.CANCELLED},
            Status.REJECTED: set(),
            Status.CANCELLED: set(),
        },
    )

    return_id = models.UUIDField(_("return id"), primary_key=True, default=uuid.uuid4, editable=False)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    courier_id = models.CharField(
        _("courier id"), max_length=64, help_text=_("Stored as given; may name a courier not known yet.")
    )
    order_id_1c = models.CharField(_("1C order id"), max_length=64, null=True, blank=True)
    manager_id = models.CharField(_("manager id"), max_length=64, null=True, blank=True)
    comment = models.TextField(_("comment"), null=True, blank=True, validators=[MaxLengthValidator(COMMENT_MAX_LENGTH)])
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    created_by = models.CharField(_("created by"), max_length=255, help_text=_("JWT subject or staff username."))

    # The change reason says who changed the status and why (up to 500 characters from 1C or staff).
    history = HistoricalRecords(get_user=_history_user, history_change_reason_field=models.TextField(null=True))
    # Set before a save for simple_history to store as the history row's reason; only declared here.
    _change_reason: str

    class Meta:
        ordering = ["-created_at", "-return_id"]
        verbose_name = _("return")
        verbose_name_plural = _("returns")
        indexes = [
            models.Index(fields=["status", "-created_at"], name="return_status_created_idx"),
            models.Index(
                fields=["status", "-updated_at"],
                name="return_open_updated_idx",
                condition=models.Q(status__in=["pending", "accepted"]),
            ),
            # 1C polls ``updated_since`` in this order (C1-02): a range scan, whatever the status.
            models.Index(fields=["updated_at", "return_id"], name="return_updated_idx"),
            models.Index(fields=["courier_id"], name="return_courier_idx"),
            models.Index(fields=["-created_at"], name="return_created_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "accepted", "rejected", "cancelled"]),
                name="return_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(source__in=["widget", "call_center", "warehouse"]), name="return_source_valid"
            ),
            models.CheckConstraint(condition=_not_blank("courier_id"), name="return_courier_id_not_blank"),
            models.CheckConstraint(
                # Q | lookup is a Q (Q.__or__ takes conditional expressions); the stubs reach for Combinable.__ror__.
                condition=models.Q(comment__isnull=True) | LessThanOrEqual(Length("comment"), COMMENT_MAX_LENGTH),  # type: ignore[arg-type]
                name="return_comment_max_length",
            ),
        ]

    def __str__(self) -> str:
        return gettext("Return %(id)s (%(status)s)") % {"id": self.short_id, "status": self.get_status_display()}

    @property
    def short_id(self) -> str:
        return str(self.return_id)[:8]

    def can_become(self, status: str) -> bool:
        return self.TRANSITIONS.allows(self.status, status)


class ReturnLine(models.Model):
    """One returned item (RET-05); lines are replaced as a whole, never edited one by one."""

    class Quality(models.TextChoices):
        NEW = "new", _("New")
        DEFECT = "defect", _("Defect")
        UNKNOWN = "unknown", _("Unknown")

    return_obj = models.ForeignKey(
        Return, verbose_name=_("return"), on_delete=models.CASCADE, related_name="lines", db_column="return_id"
    )
    line_id = models.CharField(_("line"), max_length=16)
    sku = models.CharField(_("SKU"), max_length=64)
    qty = models.IntegerField(_("quantity"), validators=[MinValueValidator(1), MaxValueValidator(MAX_QTY)])
    quality = models.CharField(_("quality"), max_length=16, choices=Quality.choices)
    reason_code = models.CharField(_("reason"), max_length=64)
    reason_note = models.TextField(
        _("reason note"), null=True, blank=True, validators=[MaxLengthValidator(REASON_NOTE_MAX_LENGTH)]
    )
    photos = models.JSONField(_("photos"), null=True, blank=True, help_text=_("Bitrix24 file ids, at most 20."))
    imei = models.CharField(
        _("IMEI"),
        max_length=16,
        null=True,
        blank=True,
        validators=[RegexValidator(IMEI_PATTERN, _("14–16 digits."))],
    )
    serial = models.CharField(_("serial number"), max_length=64, null=True, blank=True)

    # The reason names the caller ("created by jwt:<subject>", subjects up to 128 characters): text, as the return's.
    history = HistoricalRecords(get_user=_history_user, history_change_reason_field=models.TextField(null=True))

    class Meta:
        ordering = ["return_obj", "id"]
        # The admin's search by a line's SKU, IMEI or serial (returns.selectors.admin_search).
        indexes = [
            models.Index(fields=["sku"], name="returnline_sku"),
            models.Index(fields=["imei"], condition=models.Q(imei__isnull=False), name="returnline_imei"),
            models.Index(fields=["serial"], condition=models.Q(serial__isnull=False), name="returnline_serial"),
        ]
        verbose_name = _("return line")
        verbose_name_plural = _("return lines")
        constraints = [
            models.UniqueConstraint(fields=["return_obj", "line_id"], name="returnline_line_id_uniq"),
            models.CheckConstraint(condition=models.Q(qty__gt=0, qty__lte=MAX_QTY), name="returnline_qty_range"),
            models.CheckConstraint(
                condition=models.Q(quality__in=["new", "defect", "unknown"]), name="returnline_quality_valid"
            ),
            models.CheckConstraint(condition=_not_blank("sku"), name="returnline_sku_not_blank"),
            models.CheckConstraint(condition=_not_blank("reason_code"), name="returnline_reason_code_not_blank"),
            models.CheckConstraint(
                condition=models.Q(imei__isnull=True) | models.Q(imei__regex=IMEI_PATTERN),
                name="returnline_imei_format",
            ),
            models.CheckConstraint(
                condition=models.Q(reason_note__isnull=True)  # type: ignore[arg-type]  # a Q, as above
                | LessThanOrEqual(Length("reason_note"), REASON_NOTE_MAX_LENGTH),
                name="returnline_reason_note_max_length",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.line_id}: {self.sku} × {self.qty}"
