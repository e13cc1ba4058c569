"""Per-subject rate limit (PLAT-44): 600 requests a minute by default."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from mastermobile.api.authentication import Principal

if TYPE_CHECKING:
    from rest_framework.views import APIView


class SubjectRateThrottle(SimpleRateThrottle):
    scope = "subject"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        user = request.user
        ident = user.actor_id if isinstance(user, Principal) else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
