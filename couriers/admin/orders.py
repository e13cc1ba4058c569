"""Orders in the back-office: the list, the order page with its lines, log and assignments, and the actions.

Creating an order and editing a NEW one go through ``order_create`` and
``order_update``: :meth:`OrderAdmin.save_model` writes nothing and
:meth:`OrderAdmin.save_related` hands the form and its lines to the service.
The status is never a form field; it changes only through the actions, which
call ``order_assign`` and ``order_change_status`` for each selected order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.forms.formsets import BaseFormSet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from couriers import services
from couriers.admin import deliveries
from couriers.admin.display import (
    amount,
    assignment_status_badge,
    courier_name,
    order_status_badge,
    order_status_label,
)
from couriers.admin.filters import OrderCourierFilter
from couriers.exceptions import WarehouseError
from couriers.models import MAX_LINES, REASON_MAX_LENGTH, Assignment, Order, OrderLine, OrderStatus, OrderStatusLog
from mastermobile import formatting
from mastermobile.admin import DateRangeFilter, LargeListMixin, PluralTitleMixin, fieldset_fields
from mastermobile.errors import InvalidStatusChange
from returns.models import Courier

# What staff type when they create an order; the rest comes from the lines, the services and the actions.
ADD_FIELDS = [
    "id",
    "title",
    "order_id_1c",
    "customer_name",
    "customer_phone",
    "delivery_address",
    "cod_amount",
    "notes",
]
EDITABLE_WHILE_NEW = ["title", "notes"]


def staff_actor(request: HttpRequest) -> services.Actor:
    return services.Actor(role="admin", subject=request.user.get_username())


def refusal_text(order_id: str, error: Exception) -> str:
    """What a refused operation says to staff: statuses by their names, not their codes."""
    if isinstance(error, InvalidStatusChange):
        return gettext("Order %(id)s is “%(current)s”; it cannot become “%(requested)s”.") % {
            "id": order_id,
            "current": order_status_label(error.current),
            "requested": order_status_label(error.requested),
        }
    if isinstance(error, ValidationError):
        problem = " ".join(error.messages)
        return gettext("Order %(id)s: %(problem)s") % {"id": order_id, "problem": problem} if order_id else problem
    return str(error)


class ReadOnlyInline(admin.TabularInline):
    """History rows of an order: shown, never added, changed or deleted here."""

    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        return False


class OrderLineInline(admin.TabularInline):
    """The lines: editable while the order is NEW (WW-03), then only shown."""

    model = OrderLine
    fields = ["sku", "name", "qty", "price"]
    extra = 0
    min_num = 1
    max_num = MAX_LINES
    validate_min = True
    validate_max = True

    @staticmethod
    def _editable(order: Order | None) -> bool:
        return order is None or order.status == OrderStatus.NEW

    def has_add_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        return self._editable(obj) and super().has_delete_permission(request, obj)


class StatusLogInline(ReadOnlyInline):
    model = OrderStatusLog
    # A tuple: the one value suits both attributes' declared types.
    fields = readonly_fields = ("time", "from_status", "to_status", "actor", "reason")
    ordering = ["ts", "id"]

    @admin.display(description=_("time"))
    def time(self, row: OrderStatusLog) -> str:
        return formatting.local_datetime(row.ts)


class AssignmentInline(ReadOnlyInline):
    model = Assignment
    # A tuple: the one value suits both attributes' declared types.
    fields = readonly_fields = ("courier", "status_badge", "comment", "reason", "created", "updated")
    ordering = ["created_at"]

    @admin.display(description=_("status"))
    def status_badge(self, row: Assignment):
        return assignment_status_badge(row.status)

    @admin.display(description=_("created at"))
    def created(self, row: Assignment) -> str:
        return formatting.local_datetime(row.created_at)

    @admin.display(description=_("updated at"))
    def updated(self, row: Assignment) -> str:
        return formatting.local_datetime(row.updated_at)


class AssignForm(forms.Form):
    courier = forms.ModelChoiceField(label=_("Courier"), queryset=Courier.objects.none())
    comment = forms.CharField(
        label=_("Comment for the courier"),
        required=False,
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        courier = cast(forms.ModelChoiceField, self.fields["courier"])
        courier.queryset = Courier.objects.filter(is_active=True).order_by("display_name", "courier_id")
        # Django's per-field label hook, set on the instance rather than by subclassing the field.
        courier.label_from_instance = lambda item: f"{item.display_name} ({item.courier_id})"  # type: ignore[method-assign,assignment]


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"), max_length=REASON_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 3, "cols": 60})
    )


@admin.register(Order)
class OrderAdmin(LargeListMixin, PluralTitleMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "title",
        "customer_name",
        "status_badge",
        "courier_display",
        "total",
        "paid",
        "created",
        "updated",
    ]
    list_display_links = ["id", "title"]
    list_filter = ["status", OrderCourierFilter, ("created_at", DateRangeFilter)]
    # The numbers exactly (their B-tree indexes), the title and the customer by any part (trigram indexes on
    # PostgreSQL, couriers.0004): each branch of the search's OR has an index, so no page reads the whole table.
    search_fields = ["id__exact", "order_id_1c__exact", "title", "customer_name"]
    search_help_text = _("Order number or 1C order number exactly, part of the title or of the customer's name.")
    list_select_related = ["courier"]
    list_per_page = 50
    list_defer = ["notes", "delivery_address"]
    change_list_template = "admin/couriers/order/change_list.html"
    inlines = [OrderLineInline, AssignmentInline, StatusLogInline]
    actions = ["assign_to_courier", "reject", "return_to_pool"]
    add_fieldsets = [
        (None, {"fields": ["id", "title", "order_id_1c"]}),
        (_("Customer"), {"fields": ["customer_name", "customer_phone", "delivery_address"]}),
        (_("Money"), {"fields": ["cod_amount"]}),
        (_("Notes"), {"fields": ["notes"]}),
    ]
    fieldsets = [
        (None, {"fields": ["id", "title", "status_badge", "status_code_1c", "courier_link", "order_id_1c"]}),
        (_("Customer"), {"fields": ["customer_name", "customer_phone", "delivery_address"]}),
        (_("Money"), {"fields": ["total", "cod", "paid"]}),
        (_("Notes"), {"fields": ["notes"]}),
        (_("Record"), {"fields": ["created_by", "created", "updated", "task_id_b24"]}),
    ]

    def get_inlines(self, request: HttpRequest, obj: Order | None = None) -> list:
        return self.inlines if obj else [OrderLineInline]  # a new order has no history yet

    def get_fieldsets(self, request: HttpRequest, obj: Order | None = None):
        return self.fieldsets if obj else self.add_fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Order | None = None) -> list[str]:
        if obj is None:
            return []
        return [name for name in fieldset_fields(self.fieldsets) if name not in EDITABLE_WHILE_NEW]

    def has_change_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        # Only a NEW order is edited (WW-03); any other shows, and moves only through the actions.
        return super().has_change_permission(request, obj) and (obj is None or obj.status == OrderStatus.NEW)

    def has_delete_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        return False  # an order is a document 1C and the courier saw; it is rejected, not deleted

    # Saving through the services ---------------------------------------------------------

    def changeform_view(self, request: HttpRequest, object_id=None, form_url: str = "", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except (WarehouseError, ValidationError) as error:
            # The service refused what the form let through (e.g. the order moved on meanwhile): nothing was saved.
            self.message_user(request, refusal_text(object_id or "", error), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request: HttpRequest, obj: Order, form: forms.ModelForm, change: bool) -> None:
        """Nothing here: the order and its lines are written together by the service in :meth:`save_related`."""

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: list, change: bool) -> None:
        line_formsets = [formset for formset in formsets if formset.model is OrderLine]
        lines = [
            services.LineData(
                sku=line.cleaned_data["sku"],
                name=line.cleaned_data["name"],
                qty=line.cleaned_data["qty"],
                price=line.cleaned_data["price"],
            )
            for formset in line_formsets
            for line in formset.forms
            if line.cleaned_data and not line.cleaned_data.get("DELETE")
        ]
        data = form.cleaned_data
        if change:
            services.order_update(
                order_id=form.instance.pk,
                actor=staff_actor(request),
                title=data["title"],
                notes=data.get("notes") or "",
                lines=lines if any(formset.has_changed() for formset in line_formsets) else None,
            )
            return
        fields = {name: data.get(name) or None for name in ADD_FIELDS if name not in ("id", "cod_amount")}
        services.order_create(
            lines=lines, actor=staff_actor(request), id=data["id"], cod_amount=data.get("cod_amount"), **fields
        )

    def construct_change_message(
        self, request: HttpRequest, form: forms.Form, formsets: Iterable[BaseFormSet[Any]], add: bool = False
    ) -> list[dict[str, dict[str, list[str]]]]:
        # The formsets were never saved (the service wrote the lines), so they have no objects to list.
        return super().construct_change_message(request, form, [], add)

    # Columns and fields --------------------------------------------------------------------

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, order: Order):
        return order_status_badge(order.status)

    @admin.display(description=_("status code for 1C"))
    def status_code_1c(self, order: Order):
        return format_html("<code>{}</code>", order.status_code_1c)

    @admin.display(description=_("courier"), ordering="courier__display_name")
    def courier_display(self, order: Order):
        return courier_name(order.courier)

    @admin.display(description=_("courier"))
    def courier_link(self, order: Order):
        if order.courier is None:
            return formatting.EMPTY
        url = reverse("admin:returns_courier_change", args=[order.courier.pk])
        return format_html('<a href="{}">{} ({})</a>', url, order.courier.display_name, order.courier.pk)

    @admin.display(description=_("total"), ordering="total_amount")
    def total(self, order: Order):
        return amount(order.total_amount, order.currency_code)

    @admin.display(description=_("cash on delivery"))
    def cod(self, order: Order):
        return amount(order.cod_amount, order.currency_code)

    @admin.display(description=_("paid"), ordering="paid_amount")
    def paid(self, order: Order):
        return amount(order.paid_amount, order.currency_code)

    @admin.display(description=_("created at"), ordering="created_at")
    def created(self, order: Order) -> str:
        return formatting.local_datetime(order.created_at)

    @admin.display(description=_("updated at"), ordering="updated_at")
    def updated(self, order: Order) -> str:
        return formatting.local_datetime(order.updated_at)

    # Actions ---------------------------------------------------------------------------------

    @admin.action(description=_("Assign to a courier"), permissions=["change"])
    def assign_to_courier(self, request: HttpRequest, queryset: QuerySet[Order]) -> TemplateResponse | None:
        form = AssignForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return self._action_page(
                request,
                queryset,
                form,
                action="assign_to_courier",
                title=gettext("Assign orders to a courier"),
                note=gettext("Only new orders can be assigned; the courier gets the order as a task to accept."),
                submit=gettext("Assign"),
            )
        courier, comment = form.cleaned_data["courier"], form.cleaned_data["comment"]
        self._each(
            request,
            queryset,
            lambda order_id: services.order_assign(
                order_id=order_id, courier_id=courier.pk, actor=staff_actor(request), comment=comment
            ),
            lambda count: (
                ngettext("%(count)d order assigned to %(courier)s.", "%(count)d orders assigned to %(courier)s.", count)
                % {"count": count, "courier": courier.display_name}
            ),
        )
        return None

    @admin.action(description=_("Reject (cancel) the order"), permissions=["change"])
    def reject(self, request: HttpRequest, queryset: QuerySet[Order]) -> TemplateResponse | None:
        form = RejectForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return self._action_page(
                request,
                queryset,
                form,
                action="reject",
                title=gettext("Reject (cancel) orders"),
                note=gettext("A rejected order is final: it cannot be assigned or delivered any more."),
                submit=gettext("Reject"),
            )
        reason = form.cleaned_data["reason"]
        self._each(
            request,
            queryset,
            lambda order_id: services.order_change_status(
                order_id=order_id, status=OrderStatus.REJECTED, actor=staff_actor(request), reason=reason
            ),
            lambda count: ngettext("%(count)d order rejected.", "%(count)d orders rejected.", count) % {"count": count},
        )
        return None

    @admin.action(description=_("Return to the pool"), permissions=["change"])
    def return_to_pool(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        """Orders a courier declined become NEW again, without a courier, ready to be assigned afresh."""
        self._each(
            request,
            queryset,
            lambda order_id: services.order_change_status(
                order_id=order_id, status=OrderStatus.NEW, actor=staff_actor(request)
            ),
            lambda count: (
                ngettext("%(count)d order is back in the pool.", "%(count)d orders are back in the pool.", count)
                % {"count": count}
            ),
        )

    def _each(
        self,
        request: HttpRequest,
        queryset: QuerySet[Order],
        operation: Callable[[str], object],
        done_message: Callable[[int], str],
    ) -> None:
        """Run ``operation`` for each selected order; one message for the successes, one for each refusal."""
        done = 0
        for order_id in queryset.order_by("created_at", "id").values_list("pk", flat=True):
            try:
                operation(order_id)
            except (WarehouseError, ValidationError) as error:
                self.message_user(request, refusal_text(order_id, error), messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, done_message(done), messages.SUCCESS)

    def _action_page(
        self, request: HttpRequest, queryset: QuerySet[Order], form: forms.Form, **texts: str
    ) -> TemplateResponse:
        """The page between choosing an action and running it: the selected orders and what the action needs."""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "orders": [(order, order_status_label(order.status)) for order in queryset.select_related("courier")],
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            **texts,
        }
        return TemplateResponse(request, "admin/couriers/order/action.html", context)

    # The delivery report ---------------------------------------------------------------------

    def get_urls(self):
        # Before the model's own URLs: "<path:object_id>/" would take "deliveries/" for an order id.
        own = [
            path("deliveries/", self.admin_site.admin_view(self.deliveries_view), name="couriers_deliveries"),
            path(
                "deliveries/csv/", self.admin_site.admin_view(self.deliveries_csv_view), name="couriers_deliveries_csv"
            ),
        ]
        return [*own, *super().get_urls()]

    def deliveries_view(self, request: HttpRequest) -> TemplateResponse:
        """«Отчёт по доставкам»: orders per courier and day (couriers.admin.deliveries)."""
        return deliveries.report_page(self, request)

    def deliveries_csv_view(self, request: HttpRequest) -> HttpResponse:
        return deliveries.report_csv(self, request)
