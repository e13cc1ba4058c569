"""API views that belong to no app."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.views import APIView


class UnknownAPIPathView(APIView):
    """The last route under /api/: a path nothing else matched is a 404 problem, DEBUG or not.

    Django's 404 handler is skipped with DEBUG=True (the technical HTML page
    shows instead), so the API answers unknown paths itself.  No authentication
    or permission runs first: an unknown path is 404 for everyone.
    """

    authentication_classes = ()
    permission_classes = ()
    throttle_classes = ()
    schema = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        raise exceptions.NotFound("No resource at this path.")
