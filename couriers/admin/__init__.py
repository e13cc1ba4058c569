"""Back-office screens of the Walking Warehouse (issue item 7): orders, assignments, backpack stock, the report.

Every write goes through :mod:`couriers.services`; the status of an order is
never a form field, so no admin save can step around the WW-04 state machine.
"""

from couriers.admin.orders import OrderAdmin
from couriers.admin.stock import AssignmentAdmin, CourierStockAdmin, StockMovementAdmin

__all__ = ["AssignmentAdmin", "CourierStockAdmin", "OrderAdmin", "StockMovementAdmin"]
