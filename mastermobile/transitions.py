"""Status transition tables turned into guarded updates, for every model with a state machine.

A :class:`TransitionTable` knows, for each status, where it may go next.
:meth:`TransitionTable.move` is the only way a service changes a status in
the database: ``UPDATE … WHERE pk = … AND status IN (<allowed sources>)``.
The database decides, so two workers racing for the same row cannot both
move it, and a row whose status changed since it was read is left alone —
``move`` then answers False and the caller re-reads.

Models that must save through the ORM (a history of changes) use
:meth:`TransitionTable.check` under ``select_for_update`` instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import models
from django.utils import timezone


class InvalidTransition(Exception):
    """A status change the table does not allow."""

    def __init__(self, table: str, source: str, target: str):
        self.table, self.source, self.target = table, source, target
        super().__init__(f"{table}: {source} → {target} is not allowed")


class TransitionTable:
    """``allowed[source]`` is the set of statuses ``source`` may become; an empty set marks a final status."""

    def __init__(self, name: str, allowed: Mapping[str, Iterable[str]], *, field: str = "status"):
        self.name = name
        self.field = field
        self.allowed: dict[str, frozenset[str]] = {
            str(source): frozenset(map(str, targets)) for source, targets in allowed.items()
        }

    def __getitem__(self, source: str) -> frozenset[str]:
        return self.allowed[source]

    def allows(self, source: str, target: str) -> bool:
        return target in self.allowed.get(source, frozenset())

    def is_final(self, status: str) -> bool:
        return not self.allowed.get(status)

    def sources(self, target: str) -> frozenset[str]:
        """Every status that may become ``target``."""
        return frozenset(source for source, targets in self.allowed.items() if target in targets)

    def check(self, source: str, target: str) -> None:
        if not self.allows(source, target):
            raise InvalidTransition(self.name, source, target)

    def move(
        self,
        rows: type[models.Model] | models.QuerySet,
        pk: Any,
        target: str,
        /,
        *,
        only_from: Iterable[str] | None = None,
        **fields: Any,
    ) -> bool:
        """Set ``target`` (and ``fields``) on row ``pk`` of ``rows`` (a model or a narrower queryset) if its status may become ``target``.

        ``only_from`` narrows the allowed sources further (e.g. "only a
        ``running`` job may succeed here").  Asking for a source the table
        forbids is a programming error and raises :class:`InvalidTransition`.
        Returns whether the row moved.
        """
        sources = self.sources(target)
        if only_from is not None:
            wanted = frozenset(map(str, only_from))
            forbidden = wanted - sources
            if forbidden:
                raise InvalidTransition(self.name, ",".join(sorted(forbidden)), target)
            sources = wanted
        queryset = rows if isinstance(rows, models.QuerySet) else rows._default_manager.all()
        if "updated_at" in {field.name for field in queryset.model._meta.concrete_fields}:
            fields.setdefault("updated_at", timezone.now())
        moved = queryset.filter(pk=pk, **{f"{self.field}__in": sources}).update(**{self.field: target}, **fields)
        return moved == 1
