"""``Idempotency-Key`` for any DRF write endpoint (RET-20…RET-26).

Decorate a view's ``post``/``put``/``patch``/``delete`` with :func:`idempotent`::

    class ThingListView(APIView):
        @idempotent
        def post(self, request): ...

How one request goes:

1. The key is checked (present, not blank, ≤ 128 characters, no control
   characters) — otherwise 400 and nothing is stored.
2. One transaction holds everything: the key is *claimed* by inserting an
   ``IdempotencyRecord`` (``in_progress``), the operation runs, and a successful
   response is stored on the record (status, JSON body, ``Location``, state
   ``completed``) together with the view's integration-log row (see
   :func:`idempotent`) — one commit for the key, the resource, its history, the
   stored response and the audit row.
3. The unique constraint on (key, endpoint, actor) is the lock.  A concurrent
   request with the same key waits on it (PostgreSQL: the uncommitted row;
   SQLite: the write lock) until the first commits or rolls back, and then
   replays the stored response, gets 409 ``idempotency-key-reused`` (different
   fingerprint), or — if the first failed — runs itself.  A record another
   process left ``in_progress`` (written by an earlier version that committed
   the claim on its own) is 409 ``idempotency-in-progress`` with
   ``Retry-After: 1`` until it is stale.
4. A 4xx/5xx response or an exception rolls the transaction back, claim
   included, so the client may correct the request and retry with the same key.
   A killed process's transaction is rolled back by the database: its claim
   disappears with it.

Expired records (72 h) and stale ``in_progress`` records (older than
:data:`STALE_CLAIM_AFTER`) are deleted and the key claimed again.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, cast

from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from mastermobile.api.errors import ProblemError
from mastermobile.api.schema import WHITESPACE_CLASS
from mastermobile.db import request_transaction
from mastermobile.models import IDEMPOTENCY_KEY_MAX_LENGTH, IDEMPOTENCY_TTL, IdempotencyRecord
from mastermobile.observability.context import idempotency_key_var

logger = logging.getLogger(__name__)

KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
STORED_HEADERS = ("Location",)
STALE_CLAIM_AFTER = timedelta(minutes=10)
CLAIM_ATTEMPTS = 5

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")

IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    KEY_HEADER,
    {
        "type": "string",
        "minLength": 1,
        "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH,
        # What parse_key accepts: no control character and not only whitespace.
        "pattern": rf"^[^\u0000-\u001f\u007f]*[^\u0000-\u001f\u007f{WHITESPACE_CLASS}][^\u0000-\u001f\u007f]*$",
    },
    OpenApiParameter.HEADER,
    required=True,
    description=(
        "Client-chosen key (1–128 characters, no control characters, e.g. a UUID). "
        "Repeating a request with the same key and body within 72 h replays the first response "
        f"with `{REPLAYED_HEADER}: true`; the same key with a different body is 409."
    ),
)


def parse_key(raw: str | None) -> str:
    """Return the key or raise a 400 problem explaining what is wrong with it (RET-20)."""
    if raw is None:
        raise ProblemError("bad-request", f"The {KEY_HEADER} header is required for this operation.")
    if not raw.strip():
        raise ProblemError("bad-request", f"The {KEY_HEADER} header must not be blank.")
    if len(raw) > IDEMPOTENCY_KEY_MAX_LENGTH:
        raise ProblemError(
            "bad-request", f"The {KEY_HEADER} header must be at most {IDEMPOTENCY_KEY_MAX_LENGTH} characters."
        )
    if _CONTROL_CHARACTERS.search(raw):
        raise ProblemError("bad-request", f"The {KEY_HEADER} header must not contain control characters.")
    return raw


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def request_fingerprint(*, method: str, path_params: Mapping[str, Any], body: Any) -> str:
    """SHA-256 of the method, the path parameters and the canonical JSON body.

    Key order and whitespace in the client's JSON do not matter; values and
    their JSON types do (``1`` and ``1.0`` differ).
    """
    material = "\n".join((method.upper(), canonical_json(dict(path_params)), canonical_json(body)))
    return hashlib.sha256(material.encode()).hexdigest()


def idempotent(handler: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Make a DRF view handler idempotent under the ``Idempotency-Key`` header.

    Apply it to handlers that authenticate callers: the key is scoped by
    ``request.user.actor_id`` (RET-21).  Authentication, permissions and
    throttling have already run when the handler is called, so 401/403 come
    before a missing-key 400.  A view with an ``audit_write(request, response)``
    method (:class:`mastermobile.api.audit.InboundAuditMixin`) has it called
    inside the transaction, so a successful write and its audit row commit
    together.
    """

    @functools.wraps(handler)
    def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        key = parse_key(request.headers.get(KEY_HEADER))
        idempotency_key_var.set(key)
        # Reading request.data here surfaces 400 (malformed JSON) and 415
        # before anything is claimed.
        fingerprint = request_fingerprint(method=request.method or "", path_params=kwargs, body=request.data)
        scope = {
            "key": key,
            "endpoint": _endpoint(request),
            "actor_id": str(getattr(request.user, "actor_id", "anonymous")),
        }
        audit = getattr(view, "audit_write", None)
        for _ in range(CLAIM_ATTEMPTS):
            try:
                return _execute(
                    scope,
                    fingerprint,
                    lambda: handler(view, request, *args, **kwargs),
                    request=request,
                    path_params=kwargs,
                    audit=audit,
                )
            except _KeyTaken:
                pass
            existing = IdempotencyRecord.objects.filter(**scope).first()
            if existing is None:
                continue  # the holder failed and rolled back meanwhile
            now = timezone.now()
            if existing.expires_at <= now or _is_stale_claim(existing, now):
                IdempotencyRecord.objects.filter(pk=existing.pk).delete()
                continue
            if existing.request_fingerprint != fingerprint:
                raise ProblemError("idempotency-key-reused", "Idempotency-Key reused with a different payload.")
            if existing.state == IdempotencyRecord.State.IN_PROGRESS:
                raise _in_progress()
            logger.info("idempotency.replayed", extra={"event": "idempotency.replayed", "record_id": existing.pk})
            return _replay(existing)
        raise _in_progress()

    wrapper.idempotent = True  # type: ignore[attr-defined]
    return wrapper


def prune_expired_records(*, now: datetime | None = None) -> int:
    """Delete records past ``expires_at``; return how many went.  Runs hourly (django-q2)."""
    deleted, _ = IdempotencyRecord.objects.filter(expires_at__lte=now or timezone.now()).delete()
    logger.info("idempotency.pruned", extra={"event": "idempotency.pruned", "deleted": deleted})
    return deleted


def _endpoint(request: Request) -> str:
    match = getattr(request, "resolver_match", None)
    route = "/" + match.route if match is not None and match.route else request.path
    return f"{request.method} {route}"


def _is_stale_claim(record: IdempotencyRecord, now: datetime) -> bool:
    return record.state == IdempotencyRecord.State.IN_PROGRESS and record.created_at <= now - STALE_CLAIM_AFTER


def _in_progress() -> ProblemError:
    return ProblemError(
        "idempotency-in-progress", "A request with this Idempotency-Key is in progress.", headers={"Retry-After": "1"}
    )


class _KeyTaken(Exception):
    """Another request holds or has used the key; raised out of the transaction so that it rolls back."""


class _ClaimLost(Exception):
    """The record vanished while the operation ran (deleted as stale, or by the operation); do not commit."""


def _execute(
    scope: Mapping[str, str],
    fingerprint: str,
    operation: Callable[[], HttpResponseBase],
    *,
    request: Request,
    path_params: Mapping[str, Any],
    audit: Callable[[Request, HttpResponseBase], None] | None,
) -> HttpResponseBase:
    now = timezone.now()
    try:
        with request_transaction():
            try:
                record = IdempotencyRecord.objects.create(
                    **scope,
                    request_fingerprint=fingerprint,
                    state=IdempotencyRecord.State.IN_PROGRESS,
                    created_at=now,
                    expires_at=now + IDEMPOTENCY_TTL,
                )
            except IntegrityError:
                raise _KeyTaken from None
            response = operation()
            if response.status_code >= 400:
                transaction.set_rollback(True)  # the claim goes with everything else
                return response
            if not _complete(record, response, request=request, path_params=path_params):
                raise _ClaimLost
            if audit is not None:
                audit(request, response)
            return response
    except _ClaimLost:
        raise _in_progress() from None


def _complete(
    record: IdempotencyRecord, response: HttpResponseBase, *, request: Request, path_params: Mapping[str, Any]
) -> bool:
    """Store the response on the record; a JSON answer is rendered here once and sent as it was stored."""
    data = getattr(response, "data", None)
    if isinstance(response, Response):
        body = JSONRenderer().render(data).decode() if data is not None else ""
        renderer = getattr(request, "accepted_renderer", None)
        if body and isinstance(renderer, JSONRenderer):
            # What DRF would render for this client; setting the content marks the response rendered.
            response.content = body
            response["Content-Type"] = renderer.media_type
    else:
        # Idempotent views answer with a DRF Response or a plain HttpResponse, never a stream.
        body = cast(HttpResponse, response).content.decode()
    headers = {name: response[name] for name in STORED_HEADERS if response.has_header(name)}
    if body:
        headers["Content-Type"] = "application/json"
    resource_ref = data.get("id") if isinstance(data, dict) and data.get("id") else None
    if resource_ref is None and path_params:
        resource_ref = next(iter(path_params.values()))
    updated = IdempotencyRecord.objects.filter(pk=record.pk, state=IdempotencyRecord.State.IN_PROGRESS).update(
        state=IdempotencyRecord.State.COMPLETED,
        response_status=response.status_code,
        response_body=body,
        response_headers=headers,
        resource_ref=str(resource_ref)[:128] if resource_ref is not None else None,
    )
    return updated == 1


def _replay(record: IdempotencyRecord) -> HttpResponse:
    headers = dict(record.response_headers)
    content_type = headers.pop("Content-Type", None)
    response = HttpResponse(
        record.response_body.encode(), status=record.response_status, content_type=content_type, headers=headers
    )
    if content_type is None:
        del response["Content-Type"]
    response[REPLAYED_HEADER] = "true"
    return response
