from django.contrib import admin

from integrations.models import IntegrationLog


@admin.register(IntegrationLog)
class IntegrationLogAdmin(admin.ModelAdmin):
    """Read-only audit trail (RET-32)."""

    list_display = ("ts", "direction", "external_system", "endpoint", "status", "status_code", "correlation_id")
    list_filter = ("external_system", "direction", "status", ("ts", admin.DateFieldListFilter))
    search_fields = ("correlation_id", "resource_ref", "endpoint", "error_code")
    date_hierarchy = "ts"
    list_per_page = 50

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
