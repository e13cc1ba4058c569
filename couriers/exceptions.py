"""Domain errors of the Walking Warehouse; the API's handler and the admin translate them."""

from __future__ import annotations

from django.utils.translation import gettext

from mastermobile.errors import ConflictError, DomainError, InvalidStatusChange, NotFoundError


class WarehouseError(DomainError):
    """Base class for every Walking Warehouse domain error."""


class OrderNotFound(WarehouseError, NotFoundError):
    def __init__(self, order_id: object):
        self.order_id = order_id
        super().__init__(gettext("Order %(id)s does not exist.") % {"id": order_id})


class OrderExists(WarehouseError, ConflictError):
    def __init__(self, order_id: object):
        super().__init__(gettext("Order %(id)s already exists.") % {"id": order_id})


class OrderNotEditable(WarehouseError, ConflictError):
    """Only NEW orders may have their title, notes and lines changed."""

    def __init__(self, order_id: object, status: str):
        super().__init__(
            gettext("Order %(id)s is %(status)s; only NEW orders can be edited.") % {"id": order_id, "status": status}
        )


class OrderTransitionRefused(WarehouseError, InvalidStatusChange):
    """WW-04 does not allow the move (422 naming both statuses)."""

    def __init__(self, order_id: object, current: str, requested: str):
        super().__init__(
            gettext("Order %(id)s is %(current)s; it cannot become %(requested)s.")
            % {"id": order_id, "current": current, "requested": requested},
            current=current,
            requested=requested,
        )


class StatusNotForRole(WarehouseError):
    """The move exists but not for this caller (a courier rejecting, 1C finishing a delivery)."""

    problem_type = "forbidden"

    def __init__(self, role: str, requested: str):
        super().__init__(
            gettext("The %(role)s role may not set an order to %(requested)s.") % {"role": role, "requested": requested}
        )


class CourierNotFound(WarehouseError, NotFoundError):
    def __init__(self, courier_id: object):
        super().__init__(gettext("Courier %(id)s does not exist.") % {"id": courier_id})


class CourierExists(WarehouseError, ConflictError):
    def __init__(self, courier_id: object):
        super().__init__(gettext("Courier %(id)s already exists.") % {"id": courier_id})


class CourierInactive(WarehouseError, ConflictError):
    def __init__(self, courier_id: object):
        super().__init__(gettext("Courier %(id)s is not active.") % {"id": courier_id})


class AssignmentNotFound(WarehouseError, NotFoundError):
    def __init__(self, assignment_id: object):
        super().__init__(gettext("Assignment %(id)s does not exist.") % {"id": assignment_id})


class AssignmentClosed(WarehouseError, ConflictError):
    def __init__(self, assignment_id: object, status: str):
        super().__init__(
            gettext("Assignment %(id)s is %(status)s; only a pending assignment can be accepted or declined.")
            % {"id": assignment_id, "status": status}
        )


class StockLimitExceeded(WarehouseError, ConflictError):
    """A load or take-back would leave more in one compartment than it may hold (``MAX_HELD``)."""

    def __init__(self, courier_id: str, sku: str, requested: int, held: int, limit: int):
        super().__init__(
            gettext("Courier %(courier)s holds %(held)s of %(sku)s; %(requested)s more would exceed %(limit)s.")
            % {"courier": courier_id, "held": held, "sku": sku, "requested": requested, "limit": limit},
            errors=[{"field": "items", "message": f"{sku}: {held} held, {requested} more, at most {limit}"}],
        )


class InsufficientStock(WarehouseError, ConflictError):
    """WW-11: the courier holds less than asked."""

    def __init__(self, courier_id: str, sku: str, requested: int, available: int):
        self.courier_id, self.sku, self.requested, self.available = courier_id, sku, requested, available
        super().__init__(
            gettext("Courier %(courier)s holds %(available)s of %(sku)s; %(requested)s asked.")
            % {"courier": courier_id, "available": available, "sku": sku, "requested": requested},
            errors=[{"field": "items", "message": f"{sku}: {available} available, {requested} asked"}],
        )
