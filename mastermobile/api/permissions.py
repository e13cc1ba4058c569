"""Role checks declared next to each view (PLAT-43)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework import permissions
from rest_framework.request import Request

from mastermobile.api.authentication import Principal

if TYPE_CHECKING:
    from rest_framework.views import APIView


class HasRole(permissions.BasePermission):
    """Allow a request when the caller's role is listed for the HTTP method.

    Views declare ``allowed_roles = {"GET": {"1c", "admin"}, "POST": {...}}``;
    a view without the attribute is closed to everyone.  Views open to
    everybody (ping, health) set ``permission_classes = []`` explicitly.

    A view may also require a Django permission of staff who come through the
    session (``staff_permission = "calls.export_callrecord"``): staff act as
    ``admin``, and the permission narrows which staff may.
    """

    message = "Your role may not perform this operation."

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if not isinstance(user, Principal):
            return False
        if not hasattr(view, request.method.lower()):
            return True  # let the view answer 405 rather than hide it behind 403
        roles = getattr(view, "allowed_roles", {}).get(request.method)
        if roles is None and request.method in ("HEAD", "OPTIONS"):
            roles = getattr(view, "allowed_roles", {}).get("GET")
        if not roles or user.role not in roles:
            return False
        staff_permission = getattr(view, "staff_permission", None)
        if staff_permission and user.via == "session":
            return user.staff_user.has_perm(staff_permission)
        return True


def roles_description(allowed_roles: dict[str, set[str]], method: str) -> str:
    """One line for the OpenAPI description of an operation."""
    roles = sorted(allowed_roles.get(method, ()))
    return f"Roles: {', '.join(roles)}." if roles else "Roles: none."
