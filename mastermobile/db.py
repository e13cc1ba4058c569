"""Transactions shared by the API's write path and the services it calls.

An idempotent API write runs in one transaction (``mastermobile.api.idempotency``):
the key, the resource, its history, the stored response and the audit row
commit together.  Whatever fails inside it rolls all of that back, so a
service's own ``atomic()`` there needs no savepoint — two statements
(``SAVEPOINT``, ``RELEASE``) a write would otherwise pay for nothing.  Called
anywhere else (the admin, commands, tasks) a service gets a transaction or a
savepoint of its own, as with ``transaction.atomic()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import transaction

_in_request_transaction: ContextVar[bool] = ContextVar("in_request_transaction", default=False)


@contextmanager
def request_transaction() -> Iterator[None]:
    """The one transaction of an API write; services called inside it join it without a savepoint."""
    token = _in_request_transaction.set(True)
    try:
        with transaction.atomic():
            yield
    finally:
        _in_request_transaction.reset(token)


def atomic() -> transaction.Atomic:
    """A service's transaction: ``transaction.atomic()``, or part of the request's when inside one."""
    if _in_request_transaction.get() and transaction.get_connection().in_atomic_block:
        return transaction.atomic(savepoint=False)
    return transaction.atomic()
