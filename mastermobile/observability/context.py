"""Per-request context shared with log records (request id, actor, idempotency key)."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
user_role_var: ContextVar[str | None] = ContextVar("user_role", default=None)
idempotency_key_var: ContextVar[str | None] = ContextVar("idempotency_key", default=None)

# PLAT-20: 1–128 printable ASCII characters, no spaces.
_VALID_REQUEST_ID = re.compile(r"^[\x21-\x7e]{1,128}$")


def accept_request_id(candidate: str | None) -> str:
    """Return the client's id when it is acceptable, a new UUID4 otherwise."""
    if candidate and _VALID_REQUEST_ID.match(candidate):
        return candidate
    return str(uuid.uuid4())


def current_request_id() -> str | None:
    return request_id_var.get()
