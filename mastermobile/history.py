"""django-simple-history with its manager class built once.

``instance.history`` (read by every historical record simple_history writes)
builds a new manager class with ``HistoryManager.from_queryset`` on each
access — an ``inspect.getmembers`` over the queryset class, a millisecond of
CPU per saved row.  The class depends only on the queryset class, so it is
made once and reused; the rows written are the same.
"""

from __future__ import annotations

import functools

from simple_history import manager, models


class HistoryManager(manager.HistoryManager):
    @classmethod
    @functools.cache
    def from_queryset(cls, queryset_class, class_name=None):
        return super().from_queryset(queryset_class, class_name)


class HistoricalRecords(models.HistoricalRecords):
    """``simple_history.models.HistoricalRecords`` with :class:`HistoryManager` unless another is given."""

    def __init__(self, *args, history_manager=HistoryManager, **kwargs):
        super().__init__(*args, history_manager=history_manager, **kwargs)
