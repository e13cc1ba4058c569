"""Login throttling for the admin and the browsable API's login form (django-axes).

Every failed login is a row in the database (axes' ``AccessAttempt``), so every
gunicorn worker and every server counts the same failures.  A username is
locked *from one address* (the username + ``REMOTE_ADDR`` pair) after
``LOGIN_FAILURE_LIMIT`` failures within ``LOGIN_LOCKOUT_MINUTES``; the lock
lasts ``LOGIN_LOCKOUT_MINUTES`` after the last failure, and the right password
does not open it.  Other users, and the same user from another address, are
not affected.  Staff unlock from the admin (``mastermobile.services.login_lockouts_release``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from axes.models import AccessAttempt
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

LOCKOUT_TEMPLATE = "registration/login_locked.html"
LOCKOUT_STATUS = 429


def cool_off() -> timedelta:
    """How long a lock lasts after the last failed attempt (LOGIN_LOCKOUT_MINUTES)."""
    return get_cool_off()


def failure_limit() -> int:
    """Failed attempts that lock a username from one address (LOGIN_FAILURE_LIMIT)."""
    return get_failure_limit(None, None)


def locked_attempts(now: datetime | None = None) -> Q:
    """Rows whose username + address pair is locked right now."""
    now = now or timezone.now()
    return Q(failures_since_start__gte=failure_limit(), attempt_time__gte=now - cool_off())


def locked_until(attempt: AccessAttempt, now: datetime | None = None) -> datetime | None:
    """When the lock of this row lifts, or None when it does not lock."""
    now = now or timezone.now()
    if attempt.failures_since_start < failure_limit():
        return None
    until = attempt.attempt_time + cool_off()
    return until if until > now else None


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """``AXES_LOCKOUT_CALLABLE``: the admin-styled page that says what happened and what to do (429)."""
    minutes = int(cool_off().total_seconds() // 60)
    context = {
        "username": get_client_username(request, credentials) or "",
        "failure_limit": failure_limit(),
        "minutes": minutes,
    }
    response = render(request, LOCKOUT_TEMPLATE, context, status=LOCKOUT_STATUS)
    response["Retry-After"] = str(minutes * 60)
    return response
