"""Every read of returns: querysets with their lines prefetched, or plain rows (no N+1)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Exists, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.datastructures import MultiValueDict

from returns.exceptions import InvalidFilter, ReturnNotFound
from returns.filters import ReturnFilter
from returns.models import Courier, Return, ReturnLine

RETURN_COLUMNS = (
    "return_id",
    "status",
    "source",
    "courier_id",
    "order_id_1c",
    "manager_id",
    "comment",
    "created_at",
    "updated_at",
)
LINE_COLUMNS = ("line_id", "sku", "qty", "quality", "reason_code", "reason_note", "photos", "imei", "serial")
# 04 §7: a return still pending this long after it arrived is flagged in the admin (escalation).
OVERDUE_AFTER = timedelta(days=1)
# Query-string filters by name; a name may carry several values (``status``), as a QueryDict does.
Filters = Mapping[str, str | Sequence[str]]


def _with_lines(queryset: QuerySet[Return]) -> QuerySet[Return]:
    return queryset.prefetch_related(Prefetch("lines", queryset=ReturnLine.objects.order_by("id")))


def _query(filters: Filters) -> MultiValueDict:
    """A request's ``QueryDict`` as it is; a plain mapping with each value as a list, as a query string repeats it."""
    if isinstance(filters, MultiValueDict):
        return filters
    return MultiValueDict({name: [value] if isinstance(value, str) else list(value) for name, value in filters.items()})


def _filtered(filters: Filters | None, courier_id: str | None) -> QuerySet[Return]:
    queryset = Return.objects.order_by("-created_at", "-return_id")
    if courier_id is not None:
        queryset = queryset.filter(courier_id=courier_id)
    if not filters or not any(name in filters for name in ReturnFilter.base_filters):
        return queryset  # nothing to validate or apply; building the filter form costs ~0.5 ms
    filterset = ReturnFilter(_query(filters), queryset=queryset)
    if not filterset.is_valid():
        name, messages = next(iter(filterset.errors.items()))
        raise InvalidFilter(name, messages[0])
    return filterset.qs


def return_list(*, filters: Filters | None = None, courier_id: str | None = None) -> QuerySet[Return]:
    """Returns matching ``filters`` (status, source, courier_id, created_from, created_to, updated_since, ordering).

    ``status`` may be a list (any of them).
    ``courier_id`` restricts the result to one courier regardless of the
    filters (used to scope couriers to their own returns).  Raises
    :class:`InvalidFilter` naming the first unusable parameter.
    """
    return _with_lines(_filtered(filters, courier_id))


def return_rows(*, filters: Filters | None = None, courier_id: str | None = None) -> QuerySet[Return, dict[str, Any]]:
    """:func:`return_list` as dicts of :data:`RETURN_COLUMNS`, without lines; same filters and errors.

    For pages that are serialized straight away: no model instances are built.
    Fetch the lines of a page with :func:`return_line_rows`.
    """
    return _filtered(filters, courier_id).values(*RETURN_COLUMNS)


def return_line_rows(*, return_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """Lines of the given returns as dicts of :data:`LINE_COLUMNS`, grouped by return id, in line order.

    One query however many returns; returns without lines are absent from the result.
    """
    ids = list(return_ids)
    grouped: dict[uuid.UUID, list[dict[str, Any]]] = {}
    if not ids:
        return grouped
    rows = ReturnLine.objects.filter(return_obj__in=ids).order_by("id").values_list("return_obj", *LINE_COLUMNS)
    for return_id, *values in rows:
        grouped.setdefault(return_id, []).append(dict(zip(LINE_COLUMNS, values, strict=True)))
    return grouped


def return_get(*, return_id: uuid.UUID | str, courier_id: str | None = None) -> Return:
    """One return with its lines; ``courier_id`` hides other couriers' returns (as not found)."""
    try:
        key = uuid.UUID(str(return_id))
    except ValueError:
        raise ReturnNotFound(return_id) from None
    queryset = Return.objects.filter(return_id=key)
    if courier_id is not None:
        queryset = queryset.filter(courier_id=courier_id)
    found = _with_lines(queryset).first()
    if found is None:
        raise ReturnNotFound(return_id)
    return found


def courier_recent_returns(*, courier_id: str, limit: int = 20) -> QuerySet[Return]:
    return Return.objects.filter(courier_id=courier_id).order_by("-created_at")[:limit]


def courier_is_active(*, courier_id: str) -> bool:
    """Whether a Courier with this id exists and is active (a courier token's subject must be one)."""
    return Courier.objects.filter(courier_id=courier_id, is_active=True).exists()


def overdue_condition(*, now: datetime | None = None) -> Q:
    """Returns still ``pending`` more than :data:`OVERDUE_AFTER` after they were created (04 §7).

    A range on the (status, created_at) index ``return_status_created_idx``, so
    filtering or counting stays cheap however many returns there are.
    """
    return Q(status=Return.Status.PENDING, created_at__lt=(now or timezone.now()) - OVERDUE_AFTER)


def overdue_count(*, now: datetime | None = None) -> int:
    return Return.objects.filter(overdue_condition(now=now)).count()


_HEX = re.compile(r"[0-9a-fA-F]{1,32}")


def _id_prefix_range(word: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    """The return ids starting with ``word`` (the short id staff read, ``3f2a9c1e``) as a range on the primary key."""
    digits = word.replace("-", "")
    if not _HEX.fullmatch(digits):
        return None
    return uuid.UUID(digits.ljust(32, "0")), uuid.UUID(digits.ljust(32, "f"))


def admin_search(returns: QuerySet[Return], *, query: str) -> QuerySet[Return]:
    """The returns among ``returns`` that the admin's search box finds: every word must match one of them.

    A word is the beginning of the return's id (its short id), its courier or
    1C order exactly, or a line's SKU, IMEI or serial number exactly.  The
    lines are asked with ``EXISTS`` on their indexes (``returnline_sku`` …):
    one row per return, no join to de-duplicate with ``DISTINCT``.  The
    header's fields and the lines are two queries united with ``UNION``, each
    answered by its indexes; an ``OR`` of a subquery and the header's fields
    would be checked row by row over the whole table.
    """
    for word in query.split():
        header = Q(courier_id=word) | Q(order_id_1c=word)
        prefix = _id_prefix_range(word)
        if prefix:
            header |= Q(return_id__range=prefix)
        lines = ReturnLine.objects.filter(Q(sku=word) | Q(imei=word) | Q(serial=word), return_obj=OuterRef("pk"))
        by_header = Return.objects.filter(header).order_by().values("pk")
        by_lines = Return.objects.filter(Exists(lines)).order_by().values("pk")
        returns = returns.filter(pk__in=by_header.union(by_lines))
    return returns


def with_line_totals(returns: QuerySet[Return]) -> QuerySet[Return]:
    """``line_count`` and ``total_qty`` of each return, as correlated subqueries.

    Computed for the rows of a page only; a ``Count("lines")`` join would
    group the whole table before the page, the count and the filters.
    """
    lines = ReturnLine.objects.filter(return_obj=OuterRef("pk")).order_by().values("return_obj")
    return returns.annotate(
        line_count=Coalesce(Subquery(lines.annotate(n=Count("pk")).values("n")), 0, output_field=IntegerField()),
        total_qty=Subquery(lines.annotate(total=Sum("qty")).values("total"), output_field=IntegerField()),
    )
