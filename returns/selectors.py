"""Every read of returns: querysets with their lines prefetched (no N+1)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from django.db.models import Prefetch, QuerySet

from returns.exceptions import InvalidFilter, ReturnNotFound
from returns.filters import ReturnFilter
from returns.models import Return, ReturnLine


def _with_lines(queryset: QuerySet[Return]) -> QuerySet[Return]:
    return queryset.prefetch_related(Prefetch("lines", queryset=ReturnLine.objects.order_by("id")))


def return_list(*, filters: Mapping[str, str] | None = None, courier_id: str | None = None) -> QuerySet[Return]:
    """Returns matching ``filters`` (status, source, courier_id, created_from, created_to, ordering).

    ``courier_id`` restricts the result to one courier regardless of the
    filters (used to scope couriers to their own returns).  Raises
    :class:`InvalidFilter` naming the first unusable parameter.
    """
    queryset = Return.objects.order_by("-created_at", "-return_id")
    if courier_id is not None:
        queryset = queryset.filter(courier_id=courier_id)
    filterset = ReturnFilter(filters or {}, queryset=queryset)
    if not filterset.is_valid():
        name, messages = next(iter(filterset.errors.items()))
        raise InvalidFilter(name, messages[0])
    return _with_lines(filterset.qs)


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
