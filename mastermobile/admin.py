"""Admin building blocks shared by every app, and the platform's own admin pages.

Lists of tables that grow by a million rows a year (call records, the
integration log, returns, courier orders) use :class:`LargeListMixin`: a
count PostgreSQL already knows instead of ``COUNT(*)`` over the table, no
facets, the large columns deferred; their date navigation is
:class:`DateRangeFilter` (an index range, never a month list built from the
whole table) and a column's values come from :class:`DistinctValuesFilter`
(a loose index scan: one index probe per value, however many rows).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from axes.models import AccessAttempt, AccessLog
from django import forms
from django.contrib import admin
from django.contrib.admin.utils import build_q_object_from_lookup_parameters
from django.contrib.admin.views.main import ERROR_FLAG, PAGE_VAR, ChangeList
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connections, models, router
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext, ngettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _
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


# Lists of large tables -------------------------------------------------------------------------

# Past this many rows a filtered list says "more than 10 000" rather than counting them all: the count is
# ``COUNT(*)`` over ``LIMIT 10 001``, so it stops early however many rows match.
COUNT_CAP = 10_000
# Tables PostgreSQL estimates below this are counted exactly: it is cheap, and the estimate is coarse there.
ESTIMATE_ABOVE = 10_000


def estimated_rows(model: type[models.Model]) -> int | None:
    """The table's rows as PostgreSQL estimates them (``pg_class.reltuples``, kept by ANALYZE and autovacuum).

    ``None`` on other databases and for a table never analysed, so the caller counts instead.
    """
    connection = connections[router.db_for_read(model)]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [model._meta.db_table])
        row = cursor.fetchone()
    return row[0] if row and row[0] >= 0 else None


class EstimatedCountPaginator(Paginator):
    """A paginator that never counts a large table: estimated when unfiltered, capped at :data:`COUNT_CAP` otherwise.

    ``count_kind`` says which (``exact``, ``estimate``, ``at_least``) and
    ``count_label`` reads it to staff ("≈ 1 000 000", "больше 10 000"); the
    admin's pagination and search templates show the label.
    """

    cap = COUNT_CAP
    count_kind = "exact"
    # Querysets only: counting and paging read the query.
    object_list: QuerySet[Any]

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not queryset.query.has_filters():
            estimate = estimated_rows(queryset.model)
            if estimate is not None and estimate > ESTIMATE_ABOVE:
                self.count_kind = "estimate"
                return estimate
        # Unordered: which rows are the first 10 001 does not matter to a count, and an ORDER BY would sort them.
        found = queryset.order_by()[: self.cap + 1].count()
        if found > self.cap:
            self.count_kind = "at_least"
            return self.cap
        return found

    def page(self, number: int | str):
        """The page's rows by their primary keys: the rows skipped by ``OFFSET`` are read as keys only.

        A deep page of a list with per-row subqueries (a return's lines) would
        otherwise compute them for every row before the page too.
        """
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        keys = list(self.object_list.values_list("pk", flat=True)[bottom : bottom + self.per_page])
        # Paginator's hook for building the Page, missing from the stubs.
        return self._get_page(self.object_list.filter(pk__in=keys), number, self)  # type: ignore[attr-defined]

    @property
    def count_label(self) -> str:
        number = formatting.number(self.count)
        if self.count_kind == "estimate":
            return gettext("about %(count)s") % {"count": number}
        if self.count_kind == "at_least":
            return gettext("more than %(count)s") % {"count": number}
        return number


class LeanChangeList(ChangeList):
    """The list's rows without the columns named in ``list_defer``: a page reads what it shows."""

    def get_queryset(self, request: HttpRequest, exclude_parameters: list[str | None] | None = None) -> QuerySet:
        queryset = super().get_queryset(request, exclude_parameters)
        deferred = getattr(self.model_admin, "list_defer", ())
        return queryset.defer(*deferred) if deferred else queryset


class LargeListMixin:
    """A changelist that stays fast at millions of rows (see the module's docstring).

    ``list_defer`` names the large columns the list never shows (payloads,
    messages, text previews); the change page still reads them.
    """

    paginator: type[Paginator] = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_defer: Sequence[str] = ()

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return LeanChangeList


class DateRangeForm(forms.Form):
    # A browser's date picker takes and sends ISO dates, whatever the page's language.
    date_from = forms.DateField(
        label=pgettext_lazy("date range", "from"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    date_to = forms.DateField(
        label=pgettext_lazy("date range", "to"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


class DateRangeFilter(admin.DateFieldListFilter):
    """Django's quick periods (today, 7 days, this month, this year) and a "from … to …" pair of local days.

    Both are ranges on the column, so an index on it answers them; it
    replaces ``date_hierarchy``, whose month list is a ``SELECT DISTINCT``
    over the whole table.  The days are ``<field>__from`` and ``<field>__to``
    (both included); days that do not parse show the form's error and filter
    nothing.
    """

    template = "admin/mastermobile/date_range_filter.html"

    def __init__(self, field, request, params, model, model_admin, field_path) -> None:
        self.parameter_from = f"{field_path}__from"
        self.parameter_to = f"{field_path}__to"
        chosen = {"date_from": request.GET.get(self.parameter_from), "date_to": request.GET.get(self.parameter_to)}
        self.range_form = DateRangeForm(chosen if any(chosen.values()) else None)
        super().__init__(field, request, params, model, model_admin, field_path)

    def expected_parameters(self) -> list[str | None]:
        return [*super().expected_parameters(), self.parameter_from, self.parameter_to]

    def has_output(self) -> bool:
        return True

    def _bound(self, day: date) -> date | datetime:
        if isinstance(self.field, models.DateTimeField):
            return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())
        return day

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        own = {self.parameter_from, self.parameter_to}
        quick: dict[str, Any] = {name: value for name, value in self.used_parameters.items() if name not in own}
        if quick:
            queryset = queryset.filter(build_q_object_from_lookup_parameters(quick))
        if self.range_form.is_bound and self.range_form.is_valid():
            first, last = self.range_form.cleaned_data["date_from"], self.range_form.cleaned_data["date_to"]
            if first:
                queryset = queryset.filter(**{f"{self.field_path}__gte": self._bound(first)})
            if last:
                queryset = queryset.filter(**{f"{self.field_path}__lt": self._bound(last + timedelta(days=1))})
        return queryset

    def choices(self, changelist: ChangeList):
        # The form keeps the list's other filters and its search; the page starts again from the first.
        self.kept_parameters = [
            (name, value)
            for name, value in changelist.params.items()
            if not name.startswith(self.field_generic) and name not in (PAGE_VAR, ERROR_FLAG)
        ]
        yield from super().choices(changelist)


def distinct_values(model: type[models.Model], field_name: str, *, limit: int) -> list[Any]:
    """Up to ``limit`` distinct non-null values of a column, in order, by a loose index scan.

    ``SELECT DISTINCT`` reads every row (PostgreSQL has no skip scan); this
    recursive query asks the column's index for the smallest value, then the
    smallest greater than it, and so on: one index probe per value.  The
    column needs a B-tree index whose first column it is (a partial index
    ``WHERE column IS NOT NULL`` will do: every step says so).
    """
    connection = connections[router.db_for_read(model)]
    quote = connection.ops.quote_name
    field = model._meta.get_field(field_name)
    if not isinstance(field, models.Field) or field.column is None:
        raise ValueError(f"{model.__name__}.{field_name} is not a column")
    column, table = quote(field.column), quote(model._meta.db_table)
    # Identifiers come from the model's metadata, never from the request.
    sql = (
        f"WITH RECURSIVE seen(value, n) AS ("  # noqa: S608
        f"SELECT MIN({column}), 1 FROM {table} WHERE {column} IS NOT NULL "
        f"UNION ALL SELECT (SELECT MIN({column}) FROM {table} WHERE {column} > seen.value), n + 1 "
        f"FROM seen WHERE seen.value IS NOT NULL AND n < %s"
        f") SELECT value FROM seen WHERE value IS NOT NULL"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [limit])
        return [value for (value,) in cursor.fetchall()]


class DistinctValuesFilter(admin.AllValuesFieldListFilter):
    """Django's "all values" filter, its values found by :func:`distinct_values` (at most ``max_choices``).

    Only for a column of the list's own model with an index on it.
    """

    max_choices = 300

    def __init__(self, field, request, params, model, model_admin, field_path) -> None:
        super().__init__(field, request, params, model, model_admin, field_path)
        values = distinct_values(model, field_path, limit=self.max_choices)
        chosen = self.lookup_val[-1] if self.lookup_val else None
        if chosen is not None and chosen not in values:
            values.append(chosen)  # a value beyond the first max_choices, from a link
        self.lookup_choices = values  # type: ignore[assignment]  # a list of values serves as well as Django's queryset of them


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
    # A tuple: the one value suits both attributes' declared types.
    fields = readonly_fields = (
        "username",
        "ip_address",
        "user_agent",
        "path_info",
        "failures_since_start",
        "last_attempt",
        "state",
    )

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
    # A tuple: the one value suits both attributes' declared types.
    fields = readonly_fields = ("username", "ip_address", "user_agent", "path_info", "logged_in", "logged_out")

    @admin.display(description=_("logged in at"), ordering="attempt_time")
    def logged_in(self, entry: AccessLog) -> str:
        return formatting.local_datetime(entry.attempt_time)

    @admin.display(description=_("logged out at"), ordering="logout_time")
    def logged_out(self, entry: AccessLog) -> str:
        return formatting.local_datetime(entry.logout_time)
