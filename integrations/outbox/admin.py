"""Back-office pages of the outbox: events (read-only, requeue), webhook subscriptions, inbound webhooks, task links."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from integrations.outbox.models import (
    Bitrix24TaskLink,
    EventStatus,
    InboundWebhookEvent,
    OutboxEvent,
    WebhookSubscription,
)
from integrations.outbox.services import EventNotRequeueable, event_requeue
from mastermobile import formatting
from mastermobile.admin import PluralTitleMixin, ReadOnlyModelAdmin, fieldset_fields

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

STATUS_TONES: dict[str, str] = {EventStatus.PENDING: "info", EventStatus.SENT: "ok", EventStatus.DEAD: "error"}


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyModelAdmin):
    """Integration events (EVT-01…EVT-04): what went out, what waits, what died; dead ones can be requeued."""

    list_display = (
        "created_at",
        "type",
        "aggregate_ref",
        "status_badge",
        "attempts",
        "next_attempt",
        "last_error_short",
    )
    list_filter = ("status", "type", ("created_at", admin.DateFieldListFilter))
    search_fields = ("=event_id", "aggregate_id")
    date_hierarchy = "created_at"
    list_per_page = 50
    actions = ["requeue"]
    fieldsets = [
        (None, {"fields": ["event_id", "type", "aggregate", "aggregate_id", "status_badge", "created_at"]}),
        (_("Delivery"), {"fields": ["attempts", "next_attempt", "sent_at", "delivered_to", "last_error"]}),
        (_("Payload"), {"fields": ["payload_display"]}),
    ]
    readonly_fields = fieldset_fields(fieldsets)

    @admin.display(description=_("aggregate"), ordering="aggregate_id")
    def aggregate_ref(self, event: OutboxEvent) -> str:
        return f"{event.aggregate}:{event.aggregate_id}"

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, event: OutboxEvent):
        return formatting.badge(event.get_status_display(), STATUS_TONES.get(event.status, "muted"))

    @admin.display(description=_("next attempt at"), ordering="next_attempt_at")
    def next_attempt(self, event: OutboxEvent) -> str:
        if event.status != EventStatus.PENDING:
            return formatting.EMPTY
        return formatting.local_datetime(event.next_attempt_at)

    @admin.display(description=_("last error"))
    def last_error_short(self, event: OutboxEvent) -> str:
        first_line = event.last_error.splitlines()[0] if event.last_error else ""
        return first_line[:120] or formatting.EMPTY

    @admin.display(description=_("payload"))
    def payload_display(self, event: OutboxEvent):
        return formatting.pretty_json(event.payload)

    @admin.action(description=_("Requeue"))
    def requeue(self, request: HttpRequest, queryset: QuerySet[OutboxEvent]) -> None:
        done, refused = 0, []
        for event_id in queryset.values_list("event_id", flat=True):
            try:
                event_requeue(event_id=event_id)
                done += 1
            except EventNotRequeueable:
                refused.append(event_id)
        if done:
            message = ngettext(
                "%(count)d event requeued: it is delivered again now.",
                "%(count)d events requeued: they are delivered again now.",
                done,
            )
            self.message_user(request, message % {"count": done}, messages.SUCCESS)
        if refused:
            message = ngettext(
                "%(count)d event was already sent and stays as it is.",
                "%(count)d events were already sent and stay as they are.",
                len(refused),
            )
            self.message_user(request, message % {"count": len(refused)}, messages.WARNING)


class WebhookSubscriptionForm(forms.ModelForm):
    """The secret is never shown again; leaving it empty on an existing subscription keeps it."""

    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")
    secret = forms.CharField(
        label=_("secret"),
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Key of the HMAC-SHA256 signature. Leave empty to keep the current one."),
    )
    event_types = forms.MultipleChoiceField(
        label=_("event types"),
        choices=OutboxEvent.Type.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Types to send; none selected means every type."),
    )

    class Meta:
        model = WebhookSubscription
        fields = ["name", "url", "secret", "event_types", "is_active"]

    def clean_secret(self) -> str:
        secret = self.cleaned_data.get("secret") or ""
        if secret:
            return secret
        if self.instance.pk and self.instance.secret:
            return self.instance.secret
        raise forms.ValidationError(_("A new subscription needs a secret."))


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(PluralTitleMixin, admin.ModelAdmin):
    """Outbound webhooks (EVT-03): where events are POSTed, signed with the subscription's secret."""

    form = WebhookSubscriptionForm
    list_display = ("name", "url", "secret_masked", "types_display", "is_active", "updated_at")
    list_filter = ("is_active",)
    search_fields = ("name", "url")

    @admin.display(description=_("secret"))
    def secret_masked(self, subscription: WebhookSubscription) -> str:
        return "••••••" if subscription.secret else formatting.EMPTY

    @admin.display(description=_("event types"))
    def types_display(self, subscription: WebhookSubscription) -> StrOrPromise:
        return ", ".join(subscription.event_types) or _("all")


@admin.register(InboundWebhookEvent)
class InboundWebhookEventAdmin(ReadOnlyModelAdmin):
    """Verified inbound Bitrix24 webhooks (BX-02), one row per event id."""

    list_display = ("received_at", "event_id")
    search_fields = ("=event_id",)
    date_hierarchy = "received_at"
    fieldsets = [(None, {"fields": ["event_id", "received_at", "payload_display"]})]
    readonly_fields = fieldset_fields(fieldsets)

    @admin.display(description=_("payload"))
    def payload_display(self, event: InboundWebhookEvent):
        return formatting.pretty_json(event.payload)


@admin.register(Bitrix24TaskLink)
class Bitrix24TaskLinkAdmin(ReadOnlyModelAdmin):
    """Which Bitrix24 task stands for which order (BX-01); written by the outbox only."""

    list_display = ("key", "task_id", "created_at")
    search_fields = ("key", "=task_id")
    fieldsets = [(None, {"fields": ["key", "task_id", "created_at", "updated_at"]})]
    readonly_fields = fieldset_fields(fieldsets)
