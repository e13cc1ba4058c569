"""QA verdicts on the report's sample (EXP-08 §7): entered here, shown when the report is rebuilt."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from django.contrib import admin
from django.http import HttpRequest

from calls.models import QaReview

if TYPE_CHECKING:
    from django.contrib.auth.models import User


@admin.register(QaReview)
class QaReviewAdmin(admin.ModelAdmin):
    list_display = ("call_record", "verdict", "reviewer", "reviewed_at")
    list_filter = ("verdict",)
    search_fields = ("call_record__call_id",)
    raw_id_fields = ("call_record",)
    readonly_fields = ("reviewer", "reviewed_at")
    fields = ("call_record", "verdict", "comment", "reviewer", "reviewed_at")
    list_select_related = ("call_record", "reviewer")

    def save_model(self, request: HttpRequest, obj: QaReview, form, change: bool) -> None:
        # Whoever saves the verdict last is its reviewer.
        obj.reviewer = cast("User", request.user)  # the admin lets only signed-in staff this far
        super().save_model(request, obj, form, change)
