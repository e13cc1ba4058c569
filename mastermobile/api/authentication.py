"""Bearer JWTs for integrations, Django sessions for staff (PLAT-40, PLAT-41).

A token is accepted when its signature, issuer and expiry check out and:

- ``role`` is one of :data:`ROLES`;
- ``sub`` is 1–:data:`MAX_SUBJECT_LENGTH` characters of printable text, not blank;
- it lives no longer than its role's maximum (``JWT_MAX_LIFETIME_DAYS_*``):
  ``exp - iat``, or ``exp - now`` for a token without ``iat``;
- for ``courier``, ``sub`` is an active :class:`returns.models.Courier`.

The signature is checked against ``JWT_SECRET`` and, during a rotation, against
``JWT_SECRET_PREVIOUS`` too (logged as ``auth.jwt_previous_secret`` with the subject, so that
the operator sees which clients still need a new token); tokens are always issued with
``JWT_SECRET``.

Everything else is 401 with the reason.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import jwt
from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from mastermobile.observability.context import user_role_var

ROLES = ("1c", "courier", "admin")
ALGORITHM = "HS256"
LEEWAY_SECONDS = 30
# Subjects end up in audit columns ("jwt:<sub>" in 255 characters) and log lines.
MAX_SUBJECT_LENGTH = 128
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Principal:
    """Who is calling: a service or courier from a JWT, or a staff user acting as ``admin``."""

    subject: str
    role: str
    via: str  # "jwt" or "session"
    # The Django user behind a staff session (for per-view Django permissions).
    staff_user: Any = field(default=None, compare=False, repr=False)

    is_authenticated = True
    is_anonymous = False
    is_active = True

    @property
    def actor_id(self) -> str:
        """Stable id for scoping idempotency keys and audit fields."""
        return f"{self.via}:{self.subject}"

    def __str__(self) -> str:
        return self.subject


def request_principal(request: Request) -> Principal:
    """The :class:`Principal` that our authentication classes set as ``request.user``.

    Only for views whose permissions let no anonymous request through: the stubs type
    ``request.user`` as a Django user, which it never is behind these classes.
    """
    return cast(Principal, request.user)


def check_subject(subject: Any) -> None:
    """Raise ``ValueError`` unless ``subject`` is 1–128 printable characters, not all blank."""
    if not isinstance(subject, str) or not subject.strip():
        raise ValueError("the subject must not be blank")
    if len(subject) > MAX_SUBJECT_LENGTH or _UNPRINTABLE.search(subject):
        raise ValueError(f"the subject must be at most {MAX_SUBJECT_LENGTH} printable characters")


def issue_token(*, subject: str, role: str, lifetime: timedelta, secret: str, issuer: str) -> str:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    check_subject(subject)
    now = datetime.now(UTC)
    claims = {"iss": issuer, "sub": subject, "role": role, "iat": now, "exp": now + lifetime}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_token(
    token: str, *, secret: str, issuer: str, max_lifetime: Callable[[str], timedelta] | None = None
) -> dict:
    """Validate signature, issuer, expiry, role, subject and (given ``max_lifetime(role)``) lifetime.

    Raises ``jwt.InvalidTokenError`` (or a subclass) with the reason otherwise.
    """
    claims = jwt.decode(
        token,
        secret,
        algorithms=[ALGORITHM],
        issuer=issuer,
        leeway=LEEWAY_SECONDS,
        options={"require": ["exp", "iss", "sub"]},
    )
    role = claims.get("role")
    if role not in ROLES:
        raise jwt.InvalidTokenError(f"role claim must be one of {', '.join(ROLES)}")
    try:
        check_subject(claims["sub"])
    except ValueError as error:
        raise jwt.InvalidTokenError(f"sub claim: {error}") from None
    if max_lifetime is not None:
        longest = max_lifetime(role)
        # PyJWT has checked both convert to int; integers keep huge values exact.
        issued = int(claims["iat"]) if "iat" in claims else int(datetime.now(UTC).timestamp())
        if int(claims["exp"]) - issued > int(longest.total_seconds()) + LEEWAY_SECONDS:
            raise jwt.InvalidTokenError(f"tokens of role {role} may live at most {lifetime_text(longest)}")
    return claims


def lifetime_text(lifetime: timedelta) -> str:
    """``1 day``, ``7 days``, ``15 minutes``."""
    count, unit = (lifetime.days, "day") if lifetime >= timedelta(days=1) else (lifetime.seconds // 60, "minute")
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


def _decode_with_current_or_previous_secret(token: str, config: Any) -> dict:
    def decode(secret: str) -> dict:
        return decode_token(token, secret=secret, issuer=config.jwt_issuer, max_lifetime=config.jwt_max_lifetime)

    try:
        return decode(config.jwt_secret)
    except jwt.InvalidSignatureError:
        if not config.jwt_previous_secret:
            raise
    claims = decode(config.jwt_previous_secret)
    logger.warning(
        "auth.jwt_previous_secret",
        extra={
            "event": "auth.jwt_previous_secret",
            "subject": claims["sub"],
            "role": claims["role"],
            "expires": int(claims["exp"]),
        },
    )
    return claims


class JWTAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Principal, dict] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise exceptions.AuthenticationFailed("The Authorization header must be 'Bearer <token>'.")
        try:
            claims = _decode_with_current_or_previous_secret(token.strip(), settings.APP_CONFIG)
        except jwt.ExpiredSignatureError:
            raise exceptions.AuthenticationFailed("The token has expired.") from None
        except jwt.InvalidIssuerError:
            raise exceptions.AuthenticationFailed("The token was issued by an unknown issuer.") from None
        except jwt.InvalidSignatureError:
            raise exceptions.AuthenticationFailed("The token signature is invalid.") from None
        except jwt.InvalidTokenError as error:
            raise exceptions.AuthenticationFailed(f"The token is invalid: {error}.") from None
        principal = Principal(subject=claims["sub"], role=claims["role"], via="jwt")
        if principal.role == "courier" and not _is_active_courier(principal.subject):
            raise exceptions.AuthenticationFailed("The token's subject is not an active courier.")
        user_role_var.set(principal.role)
        return principal, claims

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


def _is_active_courier(courier_id: str) -> bool:
    from returns.selectors import courier_is_active  # the returns app owns couriers

    return courier_is_active(courier_id=courier_id)


class StaffSessionAuthentication(authentication.SessionAuthentication):
    """A logged-in staff user acts as ``admin``; other users get nothing (PLAT-41)."""

    def authenticate(self, request: Request) -> tuple[Principal, None] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        user = result[0]
        if not user.is_staff:
            return None
        user_role_var.set("admin")
        return Principal(subject=user.get_username(), role="admin", via="session", staff_user=user), None


class JWTAuthenticationScheme(OpenApiAuthenticationExtension):
    """OpenAPI: the bearer JWT scheme (matches SPECTACULAR_SETTINGS' ``bearerAuth``)."""

    target_class = JWTAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


class StaffSessionAuthenticationScheme(OpenApiAuthenticationExtension):
    """OpenAPI: a staff session cookie acts as the ``admin`` role."""

    target_class = StaffSessionAuthentication
    name = "cookieAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}
