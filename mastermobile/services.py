"""Platform operations that write: unlocking logins."""

from __future__ import annotations

import logging

from axes.models import AccessAttempt
from django.db import transaction
from django.db.models import QuerySet

logger = logging.getLogger(__name__)


def login_lockouts_release(*, attempts: QuerySet[AccessAttempt], released_by: str) -> int:
    """Forget the failed attempts of these username + address pairs, so they may log in at once.

    Returns how many pairs were released; the release is logged with who did it.
    """
    with transaction.atomic():
        pairs = list(attempts.values_list("username", "ip_address"))
        attempts.delete()
    logger.info(
        "login.lockouts_released",
        extra={
            "event": "login.lockouts_released",
            "released": len(pairs),
            "usernames": sorted({username or "" for username, _address in pairs}),
            "released_by": released_by,
        },
    )
    return len(pairs)
