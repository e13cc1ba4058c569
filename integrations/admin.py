from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from integrations.models import IntegrationLog
from mastermobile import formatting
from mastermobile.admin import (
    DateRangeFilter,
    DistinctValuesFilter,
    LargeListMixin,
    ReadOnlyModelAdmin,
    fieldset_fields,
)


@admin.register(IntegrationLog)
class IntegrationLogAdmin(LargeListMixin, ReadOnlyModelAdmin):
    """Read-only audit trail of traffic with 1C, Bitrix24, OpenAI and the warehouse (RET-32).

    A million rows a year: the search compares whole ids (each has an index),
    the error codes come from their index (``integrationlog_error_code``).
    """

    list_display = ("ts", "direction", "external_system", "endpoint_short", "status", "status_code", "correlation_id")
    list_filter = (
        "external_system",
        "direction",
        "status",
        ("error_code", DistinctValuesFilter),
        ("ts", DateRangeFilter),
    )
    search_fields = ("correlation_id__exact", "resource_ref__exact")
    search_help_text = _("Correlation id or resource, exactly.")
    list_per_page = 50
    list_defer = ("request", "response")
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "ts",
                    "direction",
                    "external_system",
                    "endpoint",
                    "status",
                    "status_code",
                    "error_code",
                    "retry_count",
                    "correlation_id",
                    "resource_ref",
                ]
            },
        ),
        (_("Request and response"), {"fields": ["request_display", "response_display"], "classes": ["collapse"]}),
    ]
    readonly_fields = fieldset_fields(fieldsets)

    @admin.display(description=_("endpoint"), ordering="endpoint")
    def endpoint_short(self, entry: IntegrationLog):
        # The full path stays in the tooltip and on the entry's page.
        return format_html('<span class="mm-ellipsis" title="{}">{}</span>', entry.endpoint, entry.endpoint)

    @admin.display(description=_("request"))
    def request_display(self, entry: IntegrationLog):
        return formatting.pretty_json(entry.request)

    @admin.display(description=_("response"))
    def response_display(self, entry: IntegrationLog):
        return formatting.pretty_json(entry.response)


# The outbox pages live with the outbox; importing them registers them.
from integrations.outbox import admin as outbox_admin  # noqa: E402, F401
