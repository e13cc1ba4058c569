"""Writing integration-log rows with masking and size limits applied once."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings

from integrations.models import REQUEST_BODY_LIMIT, IntegrationLog
from mastermobile.observability.logging import Redactor


def _redactor() -> Redactor:
    config = settings.APP_CONFIG
    return Redactor(config.secrets, mask_pii=config.pii_masking_enabled)


def _bounded(payload: Any, redactor: Redactor) -> Any:
    if payload is None:
        return None
    cleaned = redactor.value(payload)
    encoded = json.dumps(cleaned, ensure_ascii=False, default=str)
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
    """Store one row; secrets are removed always, personal data when masking is on."""
    redactor = _redactor()
    return IntegrationLog.objects.create(
        direction=direction,
        external_system=external_system,
        endpoint=redactor.text(endpoint)[:500],
        status=status,
        status_code=status_code,
        correlation_id=correlation_id,
        resource_ref=resource_ref,
        request=_bounded(request, redactor),
        response=_bounded(response, redactor),
        error_code=error_code,
        retry_count=retry_count,
    )
