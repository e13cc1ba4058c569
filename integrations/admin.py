from django.contrib import admin

from integrations.models import IntegrationLog
from mastermobile.admin import ReadOnlyModelAdmin


@admin.register(IntegrationLog)
class IntegrationLogAdmin(ReadOnlyModelAdmin):
    """Read-only audit trail of traffic with 1C, Bitrix24, OpenAI and the warehouse (RET-32)."""

    list_display = ("ts", "direction", "external_system", "endpoint", "status", "status_code", "correlation_id")
    list_filter = ("external_system", "direction", "status", ("ts", admin.DateFieldListFilter))
    search_fields = ("correlation_id", "resource_ref", "endpoint", "error_code")
    date_hierarchy = "ts"
    list_per_page = 50
