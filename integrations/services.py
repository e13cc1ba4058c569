"""Writing integration-log rows with masking, size limits and storable text applied once."""

from __future__ import annotations

import json
import math
from typing import Any

from django.conf import settings

from integrations.models import REQUEST_BODY_LIMIT, IntegrationLog
from integrations.text import UNSTORABLE
from mastermobile.observability.logging import Redactor


def _redactor() -> Redactor:
    config = settings.APP_CONFIG
    return Redactor(config.secrets, mask_pii=config.pii_masking_enabled)


def storable_text(value: str) -> str:
    """``value`` with NUL and lone surrogates written as their JSON escapes (``\\u0000``), as plain text."""
    return UNSTORABLE.sub(lambda match: f"\\u{ord(match.group()):04x}", value)


def masked_message(text: str, *, limit: int) -> str:
    """An error message fit for a text column: secrets (and personal data when masking is on) masked,
    NUL and lone surrogates escaped (PostgreSQL would refuse the row), cut to ``limit`` characters.
    """
    return storable_text(_redactor().text(text))[:limit]


def storable(value: Any) -> Any:
    """``value`` as JSON types only, every string and key :func:`storable_text`, NaN and infinities as text.

    Whatever a payload holds, the row can be written: an audit trail that
    drops the rows of hostile requests is no audit trail.
    """
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict):
        return {storable_text(str(key)): storable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [storable(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return storable_text(str(value))


def _bounded(payload: Any, redactor: Redactor) -> Any:
    if payload is None:
        return None
    cleaned = storable(redactor.value(payload))
    encoded = json.dumps(cleaned, ensure_ascii=False)
    if len(encoded.encode()) <= REQUEST_BODY_LIMIT:
        return cleaned
    return {"truncated": True, "size_bytes": len(encoded.encode()), "head": encoded[:4096]}


def integration_log_write(
    *,
    direction: str,
    external_system: str,
    endpoint: str,
    status: str,
    status_code: int | None = None,
    correlation_id: str | None = None,
    resource_ref: str | None = None,
    request: Any = None,
    response: Any = None,
    error_code: str | None = None,
    retry_count: int | None = None,
) -> IntegrationLog:
    """Store one row; secrets are removed always, personal data when masking is on.

    Text a column cannot hold (NUL, lone surrogates) is stored escaped, in the
    payloads and in the text fields, so no payload can make the insert fail.
    """
    redactor = _redactor()
    return IntegrationLog.objects.create(
        direction=direction,
        external_system=external_system,
        endpoint=storable_text(redactor.text(endpoint))[:500],
        status=status,
        status_code=status_code,
        correlation_id=_short_text(correlation_id),
        resource_ref=_short_text(resource_ref),
        request=_bounded(request, redactor),
        response=_bounded(response, redactor),
        error_code=_short_text(error_code),
        retry_count=retry_count,
    )


def _short_text(value: str | None) -> str | None:
    """For the 128-character columns; escaping may lengthen a value, so it is cut afterwards."""
    return None if value is None else storable_text(value)[:128]
