"""Signals other apps connect to."""

from django.dispatch import Signal

# Sent after a Bitrix24 task was linked to ``key`` (e.g. "order:42") and the link committed.
# Arguments: ``key`` (str), ``task_id`` (str).  The couriers app stores ``task_id_b24`` from it.
bitrix24_task_linked = Signal()
