from django.contrib import admin

from mastermobile.models import IdempotencyRecord


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(admin.ModelAdmin):
    """Read-only view of claimed Idempotency-Keys and their stored responses (RET-32)."""

    list_display = [
        "key",
        "endpoint",
        "actor_id",
        "state",
        "response_status",
        "resource_ref",
        "created_at",
        "expires_at",
    ]
    list_filter = ["state", "endpoint", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["key", "actor_id", "resource_ref"]
    date_hierarchy = "created_at"
    list_per_page = 50

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
