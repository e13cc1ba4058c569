"""Bitrix24 statistics item → CallRecord fields (CALL-12)."""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import UTC, datetime
from typing import Any

from django.db import models

from calls.models import CallDirection, CallRecord
from integrations.bitrix24 import recording_url_of
from integrations.services import storable
from integrations.text import clean_text
from mastermobile.observability.logging import masked_url

logger = logging.getLogger(__name__)

DIRECTIONS = {
    "1": CallDirection.OUTBOUND,
    "2": CallDirection.INBOUND,
    "3": CallDirection.INBOUND,  # redirected
    "4": CallDirection.OUTBOUND,  # callback
}
UNKNOWN_NUMBER = "unknown"
# PositiveIntegerField is a 32-bit integer on PostgreSQL.
MAX_DURATION_SEC = 2**31 - 1
# How many characters of an over-long value are kept before its hash.
_HASH_CHARACTERS = 16


def fit(value: str, limit: int) -> str:
    """``value`` if it fits ``limit`` characters, else its head and a hash of the whole: still distinct, still stable.

    Bitrix24's values are not bounded; the columns are.  The item itself is
    kept whole in ``raw_payload``.
    """
    if len(value) <= limit:
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_CHARACTERS]
    return f"{value[: limit - _HASH_CHARACTERS - 1]}~{digest}"


def _column_limit(name: str) -> int:
    field = CallRecord._meta.get_field(name)
    assert isinstance(field, models.CharField) and field.max_length is not None, name
    return field.max_length


def normalise_number(value: Any) -> str:
    """E.164 where the digits allow it; extensions stay as they are; missing → ``unknown``."""
    raw = clean_text(str(value or ""))
    if not raw:
        return UNKNOWN_NUMBER
    digits = re.sub(r"\D", "", raw)
    if not digits:
        return raw
    if raw.startswith("+") and 8 <= len(digits) <= 15:
        return "+" + digits
    if len(digits) == 11 and digits[0] in "78":
        return "+7" + digits[1:]
    if len(digits) == 10 and digits[0] == "9":
        return "+7" + digits
    return digits if len(digits) <= 15 else raw


def parse_started_at(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _int(value: Any) -> int:
    try:
        return min(MAX_DURATION_SEC, max(0, int(float(value))))
    except (TypeError, ValueError, OverflowError):  # OverflowError: "inf"
        return 0


def listed_duration_sec(item: dict[str, Any]) -> int:
    """The call's duration as the listing item states it (``CALL_DURATION``), in whole seconds."""
    return _int(item.get("CALL_DURATION"))


def record_fields(item: dict[str, Any]) -> dict[str, Any]:
    """The CallRecord columns read from one ``voximplant.statistic.get`` item."""
    call_type = str(item.get("CALL_TYPE") or "")
    direction = DIRECTIONS.get(call_type)
    if direction is None:
        logger.warning(
            "call_export.unknown_call_type",
            extra={"event": "call_export.unknown_call_type", "call_type": call_type, "call_id": item.get("CALL_ID")},
        )
        direction = CallDirection.INBOUND
    phone = normalise_number(item.get("PHONE_NUMBER"))
    portal = normalise_number(item.get("PORTAL_NUMBER"))
    from_number, to_number = (phone, portal) if direction == CallDirection.INBOUND else (portal, phone)
    record_id = item.get("RECORD_FILE_ID")
    employee = item.get("PORTAL_USER_ID")
    return {
        "call_id": fit(clean_text(str(item.get("CALL_ID") or item.get("ID") or "")), _column_limit("call_id")),
        "record_id": (
            fit(clean_text(str(record_id)), _column_limit("record_id")) if record_id not in (None, "", 0, "0") else None
        ),
        "direction": direction,
        "from_number": fit(from_number, _column_limit("from_number")),
        "to_number": fit(to_number, _column_limit("to_number")),
        "employee_id": (
            fit(clean_text(str(employee)), _column_limit("employee_id")) if employee not in (None, "") else None
        ),
        "call_started_at": parse_started_at(item.get("CALL_START_DATE")),
        "duration_sec": listed_duration_sec(item),
        "recording_url": clean_text(recording_url_of(item) or "") or None,
        # The item as Bitrix24 sent it, for reading in the admin; its recording URL's access key stays only in
        # ``recording_url``, which the download needs.  What jsonb cannot hold (NUL) is written as its escape.
        "raw_payload": storable(
            {key: masked_url(value) if isinstance(value, str) else value for key, value in item.items()}
        ),
    }
