from django.contrib import admin
from django.http import HttpRequest

from mastermobile.models import IdempotencyRecord


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """Audit trails staff may search and read but never add, edit or delete (RET-32)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyModelAdmin):
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
