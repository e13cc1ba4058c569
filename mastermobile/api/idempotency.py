"""``Idempotency-Key`` for any DRF write endpoint (RET-20…RET-26).

Decorate a view's ``post``/``put``/``patch``/``delete`` with :func:`idempotent`::

    class ThingListView(APIView):
        @idempotent
        def post(self, request): ...

How one request goes:

1. The key is checked (present, not blank, ≤ 128 characters, no control
   characters) — otherwise 400 and nothing is stored.
2. The key is *claimed*: an ``IdempotencyRecord`` in state ``in_progress`` is
   inserted in its own short, committed transaction.  The unique constraint on
   (key, endpoint, actor) is the lock: of many concurrent requests exactly one
   insert succeeds; the others read the winner's row and get a replay (same
   fingerprint, completed), 409 ``idempotency-key-reused`` (different
   fingerprint) or 409 ``idempotency-in-progress`` with ``Retry-After: 1``.
3. The operation runs in its own transaction, and a successful response is
   stored (status, JSON body, ``Location``) with the record switched to
   ``completed`` *in that same transaction* — the resource and its stored
   response commit together or not at all.
4. A 4xx/5xx response or an exception deletes the record, so the client may
   correct the request and retry with the same key.

Expired records (72 h) and claims abandoned by a killed process (in progress
for longer than :data:`STALE_CLAIM_AFTER`) are deleted and re-claimed.  A
re-claim of a stale claim cannot double-execute: the old operation's final
``UPDATE … WHERE pk = <old claim>`` matches no row and its transaction is
rolled back.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError, IntegrityError, transaction
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from mastermobile.api.errors import ProblemError
from mastermobile.api.schema import WHITESPACE_CLASS
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
    before a missing-key 400.
    """

    @functools.wraps(handler)
    def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        key = parse_key(request.headers.get(KEY_HEADER))
        idempotency_key_var.set(key)
        # Reading request.data here surfaces 400 (malformed JSON) and 415
        # before anything is claimed.
        fingerprint = request_fingerprint(method=request.method, path_params=kwargs, body=request.data)
        record = _claim(
            key=key,
            endpoint=_endpoint(request),
            actor_id=str(getattr(request.user, "actor_id", "anonymous")),
            fingerprint=fingerprint,
        )
        if record.state == IdempotencyRecord.State.COMPLETED:
            logger.info("idempotency.replayed", extra={"event": "idempotency.replayed", "record_id": record.pk})
            return _replay(record)
        return _execute(record, lambda: handler(view, request, *args, **kwargs), path_params=kwargs)

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


def _claim(*, key: str, endpoint: str, actor_id: str, fingerprint: str) -> IdempotencyRecord:
    """Insert an ``in_progress`` record, or return the completed one to replay; raise 409 otherwise."""
    scope = {"key": key, "endpoint": endpoint, "actor_id": actor_id}
    for _ in range(CLAIM_ATTEMPTS):
        now = timezone.now()
        try:
            with transaction.atomic():
                return IdempotencyRecord.objects.create(
                    **scope,
                    request_fingerprint=fingerprint,
                    state=IdempotencyRecord.State.IN_PROGRESS,
                    created_at=now,
                    expires_at=now + IDEMPOTENCY_TTL,
                )
        except IntegrityError:
            pass
        existing = IdempotencyRecord.objects.filter(**scope).first()
        if existing is None:
            continue  # the holder failed and released the key meanwhile
        if existing.expires_at <= now or _is_stale_claim(existing, now):
            IdempotencyRecord.objects.filter(pk=existing.pk).delete()
            continue
        if existing.request_fingerprint != fingerprint:
            raise ProblemError("idempotency-key-reused", "Idempotency-Key reused with a different payload.")
        if existing.state == IdempotencyRecord.State.IN_PROGRESS:
            raise _in_progress()
        return existing
    raise _in_progress()


def _is_stale_claim(record: IdempotencyRecord, now: datetime) -> bool:
    return record.state == IdempotencyRecord.State.IN_PROGRESS and record.created_at <= now - STALE_CLAIM_AFTER


def _in_progress() -> ProblemError:
    return ProblemError(
        "idempotency-in-progress", "A request with this Idempotency-Key is in progress.", headers={"Retry-After": "1"}
    )


class _ClaimLost(Exception):
    """The claim was re-taken as stale while the operation ran; the operation must not commit."""


def _execute(
    record: IdempotencyRecord, operation: Callable[[], HttpResponseBase], *, path_params: Mapping[str, Any]
) -> HttpResponseBase:
    try:
        with transaction.atomic():
            response = operation()
            if response.status_code >= 400:
                transaction.set_rollback(True)
            elif not _complete(record, response, path_params=path_params):
                raise _ClaimLost
    except _ClaimLost:
        raise _in_progress() from None
    except BaseException:
        _release(record)
        raise
    if response.status_code >= 400:
        _release(record)
    return response


def _complete(record: IdempotencyRecord, response: HttpResponseBase, *, path_params: Mapping[str, Any]) -> bool:
    data = getattr(response, "data", None)
    if isinstance(response, Response):
        body = JSONRenderer().render(data).decode() if data is not None else ""
    else:
        body = response.content.decode()
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


def _release(record: IdempotencyRecord) -> None:
    try:
        IdempotencyRecord.objects.filter(pk=record.pk).delete()
    except DatabaseError:
        # The key then stays claimed until it is stale; the original error matters more.
        logger.exception("idempotency.release_failed", extra={"event": "idempotency.release_failed"})


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
