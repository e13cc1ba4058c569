"""One inbound integration-log row per write that reached an API view (RET-08, PLAT-60).

Mix :class:`InboundAuditMixin` into an ``APIView``: every POST/PUT/PATCH/DELETE
that got past authentication and the role check leaves one ``IntegrationLog``
row — the endpoint, the status, the request and response bodies (masked by the
log writer), the correlation id and the resource it touched.  Replays of a
stored idempotent response are not new writes and leave none.  An idempotent
write that succeeds writes its row inside its own transaction (``audit_write``,
called by ``idempotent``); every other write, and every refused one, once the
response is final.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.db import DatabaseError
from django.http.response import HttpResponseBase
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from integrations.models import IntegrationLog
from integrations.services import integration_log_write
from mastermobile.api.authentication import Principal
from mastermobile.api.idempotency import REPLAYED_HEADER
from mastermobile.observability.context import current_request_id

logger = logging.getLogger(__name__)

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Who is on the other end, by the caller's role; couriers and admins write through the warehouse app.
ROLE_SYSTEMS = {"1c": IntegrationLog.System.ONEC}

if TYPE_CHECKING:
    from rest_framework.views import APIView

    # What the mixin is mixed into, so that super() and self.kwargs are known.
    _ViewBase = APIView
else:
    _ViewBase = object


class InboundAuditMixin(_ViewBase):
    """``audit_ref_kwarg`` names the URL keyword that identifies the resource when the response does not."""

    audit_ref_kwarg: str | None = None

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        if request.method in WRITE_METHODS and not getattr(request, "_write_audited", False):
            try:
                self._log_write(request, response)
            except DatabaseError:
                # The write itself has committed (or failed); losing its audit row must not turn it into a 500.
                logger.exception("api.integration_log_failed", extra={"event": "api.integration_log_failed"})
        return response

    def audit_write(self, request: Request, response: HttpResponseBase) -> None:
        """Write the row now, inside the caller's transaction (``idempotent``); a database error aborts the write."""
        self._log_write(request, response)
        request._write_audited = True  # type: ignore[attr-defined]  # our flag on DRF's request, read above

    def _log_write(self, request: Request, response: HttpResponseBase) -> None:
        principal = request.user
        if not isinstance(principal, Principal) or response.status_code in (401, 403):
            return
        if response.get(REPLAYED_HEADER) == "true":
            return
        data = getattr(response, "data", None)
        failed = response.status_code >= 400
        problem_type = data.get("type", "") if failed and isinstance(data, dict) else ""
        try:
            body = request.data  # already parsed (or emptied by a parse error)
        except exceptions.APIException:
            body = None
        integration_log_write(
            direction=IntegrationLog.Direction.INBOUND,
            external_system=ROLE_SYSTEMS.get(principal.role, IntegrationLog.System.WAREHOUSE),
            endpoint=f"{request.method} {request.path}",
            status=IntegrationLog.Status.ERROR if failed else IntegrationLog.Status.SUCCESS,
            status_code=response.status_code,
            correlation_id=current_request_id(),
            resource_ref=self._resource_ref(data),
            request=body,
            response=data,
            error_code=problem_type.rsplit("/", 1)[-1] or None,
        )

    def _resource_ref(self, data: Any) -> str | None:
        if isinstance(data, dict) and "type" not in data:
            for key in ("id", "run_id"):
                if isinstance(data.get(key), str | int) and data[key] != "":
                    return str(data[key])[:128]
        ref = self.kwargs.get(self.audit_ref_kwarg) if self.audit_ref_kwarg else None
        return str(ref)[:128] if ref else None
