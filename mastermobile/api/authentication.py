"""Bearer JWTs for integrations, Django sessions for staff (PLAT-40, PLAT-41)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from mastermobile.observability.context import user_role_var

ROLES = ("1c", "courier", "admin")
ALGORITHM = "HS256"
LEEWAY_SECONDS = 30


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


def issue_token(*, subject: str, role: str, lifetime: timedelta, secret: str, issuer: str) -> str:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if not subject:
        raise ValueError("subject must not be empty")
    now = datetime.now(UTC)
    claims = {"iss": issuer, "sub": subject, "role": role, "iat": now, "exp": now + lifetime}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_token(token: str, *, secret: str, issuer: str) -> dict:
    """Validate signature, issuer, expiry and role; raise jwt.InvalidTokenError otherwise."""
    claims = jwt.decode(
        token,
        secret,
        algorithms=[ALGORITHM],
        issuer=issuer,
        leeway=LEEWAY_SECONDS,
        options={"require": ["exp", "iss", "sub"]},
    )
    if claims.get("role") not in ROLES:
        raise jwt.InvalidTokenError(f"role claim must be one of {', '.join(ROLES)}")
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
        config = settings.APP_CONFIG
        try:
            claims = decode_token(token.strip(), secret=config.jwt_secret, issuer=config.jwt_issuer)
        except jwt.ExpiredSignatureError:
            raise exceptions.AuthenticationFailed("The token has expired.") from None
        except jwt.InvalidIssuerError:
            raise exceptions.AuthenticationFailed("The token was issued by an unknown issuer.") from None
        except jwt.InvalidSignatureError:
            raise exceptions.AuthenticationFailed("The token signature is invalid.") from None
        except jwt.InvalidTokenError as error:
            raise exceptions.AuthenticationFailed(f"The token is invalid: {error}.") from None
        principal = Principal(subject=str(claims["sub"]), role=claims["role"], via="jwt")
        user_role_var.set(principal.role)
        return principal, claims

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


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
