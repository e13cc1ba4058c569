"""Admin building blocks shared by every app, and the platform's own admin pages."""

from __future__ import annotations

import json
from typing import Any

from axes.models import AccessAttempt, AccessLog
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_q import admin as q_admin
from django_q.models import Schedule

from mastermobile import formatting, logins, services
from mastermobile.models import IdempotencyRecord

admin.site.site_header = "MasterMobile"
admin.site.site_title = "MasterMobile"
admin.site.index_title = _("Back-office")
# The app list stays on the index page; on every other page its sidebar would
# take a quarter of a 1400 px screen from the tables staff read all day.
admin.site.enable_nav_sidebar = False


def fieldset_fields(fieldsets: list | tuple) -> list[str]:
    """Every field named in ``fieldsets``: the readonly_fields of a page that only shows."""
    return [name for _title, options in fieldsets for name in options["fields"]]


class PluralTitleMixin:
    """Lists are titled by what they list ("Выгрузки звонков"), pages by what they show ("Выгрузка звонков").

    Django's "Select %s to change" and "View %s" put the name in the
    nominative, which reads wrong in Russian ("Выберите выгрузка звонков для
    изменения").
    """

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        title = capfirst(self.model._meta.verbose_name_plural)  # type: ignore[attr-defined]
        return super().changelist_view(request, {"title": title, **(extra_context or {})})  # type: ignore[misc]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        title = capfirst(self.model._meta.verbose_name)  # type: ignore[attr-defined]
        return super().change_view(request, object_id, form_url, {"title": title, **(extra_context or {})})  # type: ignore[misc]


class ViewOnlyPagesMixin(PluralTitleMixin):
    """Change pages that only show: no form fields, no Save button.

    Actions still need the *change* permission on the changelist, so it is
    only refused for a single object; writes go through the app's services
    (actions), never through a model form.  ``add_refused_message`` explains
    the refusal when someone opens the add page by URL.
    """

    add_refused_message: Any = _("Records of this kind are not added by hand.")

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)  # type: ignore[misc]

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def add_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        raise PermissionDenied(self.add_refused_message)


class ReadOnlyModelAdmin(ViewOnlyPagesMixin, admin.ModelAdmin):
    """Audit trails staff may search and read but never add, edit or delete (RET-32)."""

    add_refused_message = _("This is an audit trail: the system writes it, nobody edits it.")

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
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
    fieldsets = [
        (None, {"fields": ["key", "endpoint", "actor_id", "state", "resource_ref", "created_at", "expires_at"]}),
        (
            _("Stored response"),
            {"fields": ["response_status", "response_headers_display", "response_body_display"]},
        ),
        (_("Technical details"), {"fields": ["request_fingerprint"], "classes": ["collapse"]}),
    ]
    readonly_fields = fieldset_fields(fieldsets)

    @admin.display(description=_("response headers"))
    def response_headers_display(self, record: IdempotencyRecord):
        return formatting.pretty_json(record.response_headers)

    @admin.display(description=_("response body"))
    def response_body_display(self, record: IdempotencyRecord):
        if not record.response_body:
            return formatting.EMPTY
        try:
            return formatting.pretty_json(json.loads(record.response_body))
        except ValueError:
            return record.response_body


admin.site.unregister(Schedule)


@admin.register(Schedule)
class ScheduleAdmin(q_admin.ScheduleAdmin):
    """django-q2's schedules without the columns nobody reads (id, repeats, cluster), so the list fits the screen."""

    list_display = ("name", "func", "schedule_type", "next_run", "get_last_run", "get_success")
    list_display_links = ("name",)


class LockedFilter(admin.SimpleListFilter):
    title = _("lock")
    parameter_name = "locked"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, Any]]:
        return [("yes", _("Locked now")), ("no", _("Not locked"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.filter(logins.locked_attempts())
        if self.value() == "no":
            return queryset.exclude(logins.locked_attempts())
        return queryset


@admin.register(AccessAttempt)
class LoginAttemptAdmin(ViewOnlyPagesMixin, admin.ModelAdmin):
    """Failed logins per username and address; the Unlock action lets a locked-out colleague in again."""

    add_refused_message = _("Failed login attempts are recorded by the login pages.")
    list_display = ["username", "ip_address", "path_info", "failures_since_start", "last_attempt", "state"]
    list_filter = [LockedFilter, "path_info"]
    search_fields = ["username", "ip_address"]
    ordering = ["-attempt_time"]
    list_per_page = 50
    actions = ["unlock"]
    fields = ["username", "ip_address", "user_agent", "path_info", "failures_since_start", "last_attempt", "state"]
    readonly_fields = fields

    @admin.display(description=_("last failed attempt"), ordering="attempt_time")
    def last_attempt(self, attempt: AccessAttempt) -> str:
        return formatting.local_datetime(attempt.attempt_time)

    @admin.display(description=_("state"))
    def state(self, attempt: AccessAttempt):
        until = logins.locked_until(attempt)
        if until is not None:
            label = _("locked until %(time)s") % {"time": formatting.local_datetime(until)}
            return format_html('<span class="mm-badge mm-badge-error">{}</span>', label)
        left = logins.failure_limit() - attempt.failures_since_start
        if left <= 0:
            return format_html('<span class="mm-badge mm-badge-muted">{}</span>', _("lock expired"))
        label = ngettext("%(count)d attempt left", "%(count)d attempts left", left) % {"count": left}
        return format_html('<span class="mm-badge mm-badge-warn">{}</span>', label)

    @admin.action(description=_("Unlock the selected logins"), permissions=["unlock"])
    def unlock(self, request: HttpRequest, queryset: QuerySet[AccessAttempt]) -> None:
        released = services.login_lockouts_release(attempts=queryset, released_by=request.user.get_username())
        self.message_user(
            request,
            ngettext(
                "%(count)d login unlocked: it may log in again now.",
                "%(count)d logins unlocked: they may log in again now.",
                released,
            )
            % {"count": released},
        )

    def has_unlock_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("axes.delete_accessattempt")


@admin.register(AccessLog)
class LoginLogAdmin(ReadOnlyModelAdmin):
    """Successful logins and logouts, for "who was in the back-office when"."""

    list_display = ["username", "ip_address", "path_info", "logged_in", "logged_out"]
    list_filter = ["path_info", ("attempt_time", admin.DateFieldListFilter)]
    search_fields = ["username", "ip_address"]
    date_hierarchy = "attempt_time"
    list_per_page = 50
    fields = ["username", "ip_address", "user_agent", "path_info", "logged_in", "logged_out"]
    readonly_fields = fields

    @admin.display(description=_("logged in at"), ordering="attempt_time")
    def logged_in(self, entry: AccessLog) -> str:
        return formatting.local_datetime(entry.attempt_time)

    @admin.display(description=_("logged out at"), ordering="logout_time")
    def logged_out(self, entry: AccessLog) -> str:
        return formatting.local_datetime(entry.logout_time)
