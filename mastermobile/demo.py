"""Demo data shared by every app's builder (``manage.py seed_demo``), and the demo staff account.

Each app keeps its own builder next to its models (``returns/demo.py``,
``couriers/demo.py``, ``calls/demo.py``) and writes through its own services, so
the demo rows carry the history, status log and outbox events real ones do.
Every demo row has a fixed natural key (courier id, order id, call id), which
is what makes a second run find it instead of adding another.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

DEMO_ACTOR = "seed_demo"
PASSWORD_BYTES = 12


@dataclass(frozen=True)
class Seeded:
    """What one builder did: ``created`` new rows of ``what``, ``existing`` found from an earlier run."""

    what: str
    created: int
    existing: int


@dataclass(frozen=True)
class StaffAccount:
    username: str
    created: bool
    password: str | None  # set only when this run chose it: printed once, never stored in clear


def demo_staff_user(*, username: str, reset_password: bool = False) -> StaffAccount:
    """A superuser for the admin, with a random password when created (or reset); an existing one is left alone.

    A superuser rather than a staff user with a hand-picked list of permissions:
    the demo is there to click through every page, including the unmasked
    phone numbers and the registry export.
    """
    users = get_user_model()
    with transaction.atomic():
        user = users.objects.select_for_update().filter(username=username).first()
        created = user is None
        if user is None:
            user = users(username=username, is_staff=True, is_superuser=True)
        elif not reset_password:
            return StaffAccount(username=username, created=False, password=None)
        password = secrets.token_urlsafe(PASSWORD_BYTES)
        user.set_password(password)
        user.is_active = user.is_staff = user.is_superuser = True
        user.save()
    return StaffAccount(username=username, created=created, password=password)
