"""page/page_size pagination with strict parameters (RET-10)."""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response

from mastermobile.api.errors import BadQueryParameter

DEFAULT_PAGE_SIZE = 20


def _positive_int(request: Request, name: str, default: int, maximum: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadQueryParameter(name, "must be an integer") from None
    if value < 1:
        raise BadQueryParameter(name, "must be at least 1")
    if maximum is not None and value > maximum:
        raise BadQueryParameter(name, f"must be at most {maximum}")
    return value


class PagePagination(BasePagination):
    """``{"items", "page", "page_size", "total_items", "total_pages", "has_next"}``.

    A page beyond the end is an empty 200, not a 404: clients that loop until
    ``has_next`` is false never trip over a row deleted meanwhile.
    """

    # Querysets only (the total is one COUNT), where BasePagination also takes a sequence.
    def paginate_queryset(self, queryset: QuerySet, request: Request, view: Any = None) -> list:  # type: ignore[override]
        self.page_size = _positive_int(request, "page_size", DEFAULT_PAGE_SIZE, settings.MAX_PAGE_SIZE)
        self.page = _positive_int(request, "page", 1)
        self.total_items = queryset.count()
        offset = (self.page - 1) * self.page_size
        if offset >= self.total_items:
            return []
        return list(queryset[offset : offset + self.page_size])

    # Any as in BasePagination: the stubs type a many=True serializer's .data as a ReturnDict.
    def get_paginated_response(self, data: Any) -> Response:
        total_pages = math.ceil(self.total_items / self.page_size) if self.total_items else 0
        return Response(
            {
                "items": data,
                "page": self.page,
                "page_size": self.page_size,
                "total_items": self.total_items,
                "total_pages": total_pages,
                "has_next": self.page < total_pages,
            }
        )

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return {
            "type": "object",
            "required": ["items", "page", "page_size", "total_items", "total_pages", "has_next"],
            "properties": {
                "items": schema,
                "page": {"type": "integer", "minimum": 1},
                "page_size": {"type": "integer", "minimum": 1},
                "total_items": {"type": "integer", "minimum": 0},
                "total_pages": {"type": "integer", "minimum": 0},
                "has_next": {"type": "boolean"},
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict]:
        return [
            {
                "name": "page",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1, "default": 1},
            },
            {
                "name": "page_size",
                "in": "query",
                "required": False,
                "schema": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": settings.MAX_PAGE_SIZE,
                    "default": DEFAULT_PAGE_SIZE,
                },
            },
        ]
