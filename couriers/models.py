"""Walking Warehouse: orders handed to couriers, their assignments and status log, backpack stock (WW-02…WW-12).

The courier itself (WW-01) is ``returns.Courier``: it landed with the returns
and both apps read the same row.
"""

from __future__ import annotations

import uuid

from django.core.validators import MaxLengthValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Length, Trim
from django.db.models.lookups import GreaterThan
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from mastermobile.transitions import TransitionTable
from returns.models import Courier

ORDER_ID_PATTERN = r"^[A-Za-z0-9_./-]{1,64}$"
MAX_LINES = 200
MAX_QTY = 10_000
# What one compartment of a backpack may hold of one SKU: far beyond any real load, and with room for the
# largest movement below PostgreSQL's integer (2**31 - 1), whose overflow SQLite would not even notice.
MAX_HELD = 1_000_000_000
MAX_AMOUNT_DIGITS = 12
NOTES_MAX_LENGTH = 1000
REASON_MAX_LENGTH = 500


def _not_blank(field: str) -> GreaterThan:
    return GreaterThan(Length(Trim(field)), 0)


def new_order_id() -> str:
    return f"ww-{uuid.uuid4().hex[:16]}"


class OrderStatus(models.TextChoices):
    NEW = "NEW", _("New")
    ASSIGNED = "ASSIGNED", _("Assigned")
    IN_TRANSIT = "IN_TRANSIT", _("In transit")
    DONE = "DONE", _("Delivered")
    REJECTED = "REJECTED", _("Rejected")
    DECLINED = "DECLINED", _("Declined by courier")


# WW-04: the one table of allowed moves, for the API, the admin and the services.
ORDER_TRANSITIONS = TransitionTable(
    "order",
    {
        OrderStatus.NEW: {OrderStatus.ASSIGNED, OrderStatus.REJECTED},
        OrderStatus.ASSIGNED: {OrderStatus.IN_TRANSIT, OrderStatus.DECLINED, OrderStatus.REJECTED},
        OrderStatus.IN_TRANSIT: {OrderStatus.DONE, OrderStatus.REJECTED},
        OrderStatus.DECLINED: {OrderStatus.NEW},
        OrderStatus.DONE: set(),
        OrderStatus.REJECTED: set(),
    },
)

# WW-07: status codes 1C reads in the KMP4 export; the only place that maps them (C1-06).
KMP4_STATUS_CODES: dict[str, str] = {
    OrderStatus.NEW: "new",
    OrderStatus.ASSIGNED: "assigned_to_courier",
    OrderStatus.IN_TRANSIT: "courier_on_route",
    OrderStatus.DONE: "completed",
    OrderStatus.REJECTED: "cancelled_by_manager",
    OrderStatus.DECLINED: "declined_by_courier",
}


class Order(models.Model):
    """An "instant order" 1C hands to a courier (WW-02)."""

    id = models.CharField(
        _("order id"),
        primary_key=True,
        max_length=64,
        default=new_order_id,
        validators=[RegexValidator(ORDER_ID_PATTERN, _("Use 1–64 letters, digits, '.', '/', '-' or '_'."))],
        help_text=_("The 1C order number, or generated when 1C does not send one."),
    )
    title = models.CharField(_("title"), max_length=200)
    customer_name = models.CharField(_("customer"), max_length=200)
    customer_phone = models.CharField(_("customer phone"), max_length=32, null=True, blank=True)
    delivery_address = models.CharField(_("delivery address"), max_length=500, null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=OrderStatus.choices, default=OrderStatus.NEW)
    courier = models.ForeignKey(
        Courier,
        verbose_name=_("courier"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="orders",
    )
    task_id_b24 = models.CharField(_("Bitrix24 task"), max_length=64, null=True, blank=True)
    order_id_1c = models.CharField(_("1C order id"), max_length=64, null=True, blank=True)
    currency_code = models.CharField(_("currency"), max_length=3, default="RUB")
    total_amount = models.DecimalField(_("total"), max_digits=MAX_AMOUNT_DIGITS, decimal_places=2)
    cod_amount = models.DecimalField(
        _("cash on delivery"),
        max_digits=MAX_AMOUNT_DIGITS,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("Cash the courier collects from the customer."),
    )
    paid_amount = models.DecimalField(_("paid"), max_digits=MAX_AMOUNT_DIGITS, decimal_places=2, default=0)
    notes = models.TextField(_("notes"), null=True, blank=True, validators=[MaxLengthValidator(NOTES_MAX_LENGTH)])
    created_by = models.CharField(_("created by"), max_length=255)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "id"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        indexes = [
            models.Index(fields=["courier", "status", "-created_at"], name="order_courier_status_idx"),
            models.Index(fields=["status", "-created_at"], name="order_status_created_idx"),
            models.Index(fields=["updated_at", "id"], name="order_updated_cursor_idx"),
            models.Index(fields=["-created_at"], name="order_created_idx"),
            # The admin's search by the 1C order number; title and customer have trigram indexes (couriers.0004).
            models.Index(fields=["order_id_1c"], name="order_id_1c_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=OrderStatus.values), name="order_status_valid"),
            models.CheckConstraint(condition=models.Q(id__regex=ORDER_ID_PATTERN), name="order_id_format"),
            models.CheckConstraint(condition=_not_blank("title"), name="order_title_not_blank"),
            models.CheckConstraint(condition=_not_blank("customer_name"), name="order_customer_not_blank"),
            models.CheckConstraint(condition=models.Q(currency_code__regex=r"^[A-Z]{3}$"), name="order_currency_iso"),
            models.CheckConstraint(condition=models.Q(total_amount__gte=0), name="order_total_non_negative"),
            models.CheckConstraint(
                condition=models.Q(cod_amount__isnull=True) | models.Q(cod_amount__gte=0), name="order_cod_non_negative"
            ),
            models.CheckConstraint(condition=models.Q(paid_amount__gte=0), name="order_paid_non_negative"),
            # An assigned, moving or delivered order has its courier.
            models.CheckConstraint(
                condition=~models.Q(status__in=["ASSIGNED", "IN_TRANSIT", "DONE"]) | models.Q(courier__isnull=False),
                name="order_courier_when_assigned",
            ),
            models.UniqueConstraint(
                fields=["courier", "task_id_b24"],
                condition=models.Q(task_id_b24__isnull=False),
                name="order_task_per_courier_uniq",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.id}: {self.title}"

    @property
    def status_code_1c(self) -> str:
        return KMP4_STATUS_CODES[self.status]


class OrderLine(models.Model):
    """One item of an order (WW-03); lines are replaced as a whole while the order is NEW."""

    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.CASCADE, related_name="lines")
    sku = models.CharField(_("SKU"), max_length=64)
    name = models.CharField(_("product name"), max_length=200)
    qty = models.IntegerField(_("quantity"), validators=[MinValueValidator(1)])
    price = models.DecimalField(_("price"), max_digits=MAX_AMOUNT_DIGITS, decimal_places=2)

    class Meta:
        ordering = ["order", "id"]
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        constraints = [
            models.CheckConstraint(condition=models.Q(qty__gte=1, qty__lte=MAX_QTY), name="orderline_qty_range"),
            models.CheckConstraint(condition=models.Q(price__gte=0), name="orderline_price_non_negative"),
            models.CheckConstraint(condition=_not_blank("sku"), name="orderline_sku_not_blank"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} × {self.qty}"


class Assignment(models.Model):
    """An order offered to one courier (WW-06); at most one is open (pending or accepted) per order."""

    class Status(models.TextChoices):
        PENDING = "PENDING", _("Waiting for the courier")
        ACCEPTED = "ACCEPTED", _("Accepted")
        DECLINED = "DECLINED", _("Declined")
        CLOSED = "CLOSED", pgettext_lazy("assignment status", "Closed")

    OPEN = (Status.PENDING, Status.ACCEPTED)

    id = models.UUIDField(_("assignment id"), primary_key=True, default=uuid.uuid4, editable=False)
    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.CASCADE, related_name="assignments")
    courier = models.ForeignKey(
        Courier, verbose_name=_("courier"), on_delete=models.PROTECT, related_name="assignments"
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    comment = models.CharField(_("comment"), max_length=REASON_MAX_LENGTH, null=True, blank=True)
    reason = models.CharField(_("decline reason"), max_length=REASON_MAX_LENGTH, null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("assignment")
        verbose_name_plural = _("assignments")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["PENDING", "ACCEPTED", "DECLINED", "CLOSED"]),
                name="assignment_status_valid",
            ),
            models.UniqueConstraint(
                fields=["order"],
                condition=models.Q(status__in=["PENDING", "ACCEPTED"]),
                name="assignment_one_open_per_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} → {self.courier_id} ({self.get_status_display()})"


class OrderStatusLog(models.Model):
    """Every status change of an order, and its creation (WW-05); append-only."""

    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.CASCADE, related_name="status_log")
    from_status = models.CharField(_("from"), max_length=16, choices=OrderStatus.choices, null=True, blank=True)
    to_status = models.CharField(_("to"), max_length=16, choices=OrderStatus.choices)
    actor = models.CharField(_("who"), max_length=255, help_text=_("Role and id, e.g. courier:courier-001."))
    reason = models.CharField(_("reason"), max_length=REASON_MAX_LENGTH, null=True, blank=True)
    request_id = models.CharField(_("request id"), max_length=64, null=True, blank=True)
    ts = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        ordering = ["order", "ts", "id"]
        verbose_name = _("status change")
        verbose_name_plural = _("status log")
        indexes = [models.Index(fields=["order", "ts"], name="orderlog_order_ts_idx")]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.from_status or '—'} → {self.to_status}"


class StockKind(models.TextChoices):
    LOAD = "load", _("Loaded at the base")
    SALE = "sale", _("Sold from the backpack")
    UNLOAD = "unload", _("Unloaded at the base")
    RETURN_IN = "return_in", _("Return taken in")


class Compartment(models.TextChoices):
    BACKPACK = "backpack", _("Backpack")
    RETURNS = "returns", _("Returns compartment")


class CourierStock(models.Model):
    """What a courier carries of one SKU (WW-10): the backpack for sale, and returned goods apart."""

    courier = models.ForeignKey(Courier, verbose_name=_("courier"), on_delete=models.CASCADE, related_name="stock")
    sku = models.CharField(_("SKU"), max_length=64)
    qty = models.IntegerField(_("in the backpack"), default=0)
    returned_qty = models.IntegerField(_("in the returns compartment"), default=0)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        ordering = ["courier", "sku"]
        verbose_name = _("backpack stock")
        verbose_name_plural = _("backpack stock")
        constraints = [
            models.UniqueConstraint(fields=["courier", "sku"], name="courierstock_courier_sku_uniq"),
            # WW-11: the last line of defence; services refuse the sale before it gets here.
            models.CheckConstraint(condition=models.Q(qty__gte=0), name="courierstock_qty_non_negative"),
            models.CheckConstraint(condition=models.Q(returned_qty__gte=0), name="courierstock_returned_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.courier_id}: {self.sku} × {self.qty}"


class StockMovement(models.Model):
    """One change of a courier's stock (WW-10); append-only, the document 1C books."""

    courier = models.ForeignKey(
        Courier, verbose_name=_("courier"), on_delete=models.PROTECT, related_name="stock_movements"
    )
    sku = models.CharField(_("SKU"), max_length=64)
    qty_delta = models.IntegerField(_("change"))
    kind = models.CharField(_("kind"), max_length=16, choices=StockKind.choices)
    compartment = models.CharField(
        _("compartment"), max_length=16, choices=Compartment.choices, default=Compartment.BACKPACK
    )
    ref = models.CharField(
        _("reference"), max_length=128, null=True, blank=True, help_text=_("Order, shift or 1C document.")
    )
    actor = models.CharField(_("who"), max_length=255)
    ts = models.DateTimeField(_("time"), default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-ts", "-id"]
        verbose_name = _("stock movement")
        verbose_name_plural = _("stock movements")
        indexes = [
            models.Index(fields=["courier", "-ts"], name="stockmove_courier_ts_idx"),
            # The admin's search by SKU or reference, each compared whole.
            models.Index(fields=["sku"], name="stockmove_sku_idx"),
            models.Index(fields=["ref"], condition=models.Q(ref__isnull=False), name="stockmove_ref_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(kind__in=StockKind.values), name="stockmove_kind_valid"),
            models.CheckConstraint(condition=~models.Q(qty_delta=0), name="stockmove_delta_not_zero"),
            # Loads and returns add, sales subtract; an unload takes either compartment back to the base.
            models.CheckConstraint(
                condition=(
                    models.Q(kind__in=["load", "return_in"], qty_delta__gt=0)
                    | models.Q(kind__in=["sale", "unload"], qty_delta__lt=0)
                ),
                name="stockmove_delta_sign",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(kind__in=["load", "sale"], compartment="backpack")
                    | models.Q(kind="return_in", compartment="returns")
                    | models.Q(kind="unload", compartment__in=["backpack", "returns"])
                ),
                name="stockmove_compartment_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.courier_id}: {self.kind} {self.sku} {self.qty_delta:+d}"
