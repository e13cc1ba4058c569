"""Domain errors raised by returns services and selectors; the API's handler and the admin translate them."""

from __future__ import annotations

from django.utils.translation import gettext

from mastermobile.errors import BadFilterError, ConflictError, DomainError, NotFoundError


class ReturnError(DomainError):
    """Base class for every returns domain error."""


class ReturnNotFound(ReturnError, NotFoundError):
    def __init__(self, return_id: object):
        self.return_id = return_id
        super().__init__(gettext("Return %(id)s does not exist.") % {"id": return_id})


class ReturnNotEditable(ReturnError, ConflictError):
    """Only pending returns may have their body replaced (RET-04, RET-13)."""

    def __init__(self, return_id: object, status: str):
        self.return_id, self.status = return_id, status
        super().__init__(
            gettext("Return %(id)s is %(status)s; only pending returns can be replaced.")
            % {"id": return_id, "status": status}
        )


class InvalidTransition(ReturnError, ConflictError):
    """A status change the transition table (RET-04) does not allow; 409 as RET-14 asks."""

    def __init__(self, return_id: object, current: str, target: str):
        self.return_id, self.current, self.target = return_id, current, target
        super().__init__(
            gettext("Return %(id)s is %(current)s; it cannot become %(target)s.")
            % {"id": return_id, "current": current, "target": target}
        )


class InvalidFilter(ReturnError, BadFilterError):
    """A list filter value that cannot be used; ``name`` is the query parameter."""


class ReturnExceedsSale(ReturnError, ConflictError):
    """C1-03: more of an SKU than the order delivered, less what was already returned (409)."""

    def __init__(self, order_ref: str, over: dict[str, tuple[int, int]]):
        self.order_ref, self.over = order_ref, over
        details = ", ".join(
            gettext("%(sku)s: %(asked)s asked, %(left)s left to return")
            % {"sku": sku, "asked": asked, "left": max(left, 0)}
            for sku, (asked, left) in sorted(over.items())
        )
        super().__init__(
            gettext("Order %(order)s did not deliver that much: %(details)s.")
            % {"order": order_ref, "details": details},
            errors=[{"field": "items", "message": details}],
        )
