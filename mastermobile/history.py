"""django-simple-history: its manager class built once, and history rows copied by the database.

``instance.history`` (read by every historical record simple_history writes)
builds a new manager class with ``HistoryManager.from_queryset`` on each
access — an ``inspect.getmembers`` over the queryset class, a millisecond of
CPU per saved row.  The class depends only on the queryset class, so it is
made once and reused; the rows written are the same.

:func:`copy_to_history` writes the history rows of rows just inserted or
updated with one ``INSERT … SELECT`` — the rows simple_history would build
as model instances and insert, without building them (issue 9: the history
of a POST was a third of its CPU).
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from django.db import connections, router
from django.db.models import Field, Model
from django.utils import timezone
from simple_history import manager, models
from simple_history.utils import get_history_model_for_model


class HistoryManager(manager.HistoryManager):
    @classmethod
    @functools.cache
    def from_queryset(cls, queryset_class, class_name=None):
        return super().from_queryset(queryset_class, class_name)


class HistoricalRecords(models.HistoricalRecords):
    """``simple_history.models.HistoricalRecords`` with :class:`HistoryManager` unless another is given."""

    def __init__(self, *args, history_manager=HistoryManager, **kwargs):
        super().__init__(*args, history_manager=history_manager, **kwargs)


def copy_to_history(
    model: type[Model],
    *,
    field: str,
    value: Any,
    history_type: str,
    reason: str | None,
    on_behalf_of: Model,
    date: datetime | None = None,
) -> int:
    """Copy every row of ``model`` whose ``field`` equals ``value`` into its history table; the count copied.

    The rows are the ones simple_history writes on a save (``history_type``
    ``"+"`` created, ``"~"`` changed): every tracked column as stored, the
    ``date`` (now), the user simple_history would take for ``on_behalf_of``
    (the request's staff user, or none for API callers) and ``reason`` as the
    change reason.  Rows are copied in primary-key order, so their history
    ids follow it, as simple_history's bulk history does.  Save the rows
    without simple_history's own record (``save_without_historical_record``,
    ``bulk_create``) and call this in the same transaction.
    """
    history_model = get_history_model_for_model(model)
    using = router.db_for_write(model)
    connection = connections[using]
    user = history_model.get_default_history_user(on_behalf_of)
    history_field = history_model._meta.get_field
    params = [
        history_field("history_date").get_db_prep_save(date or timezone.now(), connection),
        history_type,
        None if user is None else history_field("history_user").get_db_prep_save(user.pk, connection),
        reason,
        _field(model, field).get_db_prep_value(value, connection),
    ]
    with connection.cursor() as cursor:
        cursor.execute(_copy_statement(model, field, using), params)
        return cursor.rowcount


@functools.cache
def _copy_statement(model: type[Model], field: str, using: str) -> str:
    """``INSERT INTO <history> (<tracked columns>, history_…) SELECT <same columns>, %s… FROM <table> WHERE …``."""
    history_model = get_history_model_for_model(model)
    quote = connections[using].ops.quote_name
    history_columns = {column.column for column in history_model._meta.concrete_fields}
    columns = [tracked.column for tracked in history_model.tracked_fields]
    missing = [column for column in columns if column not in history_columns]
    if missing:  # a db_column renamed on one side only: copying by name would be wrong
        raise LookupError(f"{history_model.__name__} has no column for {missing}")
    meta = history_model._meta
    extra = [
        _column(history_model, name)
        for name in ("history_date", "history_type", "history_user", "history_change_reason")
    ]
    listed = ", ".join(quote(column) for column in columns)
    # Only quoted table and column names of the models go into the text; every value is a parameter.
    return (
        f"INSERT INTO {quote(meta.db_table)} ({listed}, {', '.join(quote(column) for column in extra)}) "  # noqa: S608
        f"SELECT {listed}, %s, %s, %s, %s FROM {quote(model._meta.db_table)} "
        f"WHERE {quote(_column(model, field))} = %s ORDER BY {quote(_column(model, model._meta.pk.name))}"
    )


def _field(model: type[Model], name: str) -> Field:
    field = model._meta.get_field(name)
    if not isinstance(field, Field) or field.column is None:
        raise LookupError(f"{model.__name__}.{name} is not a column")
    return field


def _column(model: type[Model], name: str) -> str:
    column = _field(model, name).column
    assert column is not None  # checked by _field
    return column
