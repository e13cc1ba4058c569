"""HMAC-SHA256 signatures of webhook bodies, outbound and inbound (BX-02, EVT-03).

The ``X-Webhook-Signature`` header is ``sha256=<hex HMAC-SHA256 of the raw
body>``; ``X-Timestamp`` (unix seconds) travels beside it and must lie within
:data:`TIMESTAMP_TOLERANCE` of the receiver's clock.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

SIGNATURE_HEADER = "X-Webhook-Signature"
TIMESTAMP_HEADER = "X-Timestamp"
EVENT_ID_HEADER = "X-Event-Id"
SIGNATURE_PREFIX = "sha256="
TIMESTAMP_TOLERANCE = timedelta(minutes=5)


def signature(secret: str, body: bytes) -> str:
    """The header value for ``body``: ``sha256=`` and the hex digest."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_PREFIX}{digest}"


def signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is the signature of ``body`` under ``secret``; compared in constant time."""
    if not secret or not header:
        return False
    return hmac.compare_digest(signature(secret, body).encode(), header.strip().encode())


def timestamp_fresh(header: str | None, *, now: datetime) -> bool:
    """Whether ``header`` (unix seconds) is within :data:`TIMESTAMP_TOLERANCE` of ``now``, either way."""
    try:
        sent = float((header or "").strip())
    except ValueError:
        return False
    if sent != sent:  # NaN
        return False
    return abs(now.timestamp() - sent) <= TIMESTAMP_TOLERANCE.total_seconds()
