"""Demo couriers, Walking Warehouse orders in every state and backpack stock (``manage.py seed_demo``).

Every order is created and moved through :mod:`couriers.services`, by the
role that makes that move for real (1C creates and assigns, the courier
accepts, drives, delivers or declines, 1C cancels), so each one has its
status log and outbox events.
"""

from __future__ import annotations

from decimal import Decimal

from couriers import services
from couriers.models import Order, OrderStatus, StockKind, StockMovement
from mastermobile.demo import Seeded
from returns.models import Courier

S = OrderStatus
MANAGER = services.Actor(role="1c", subject="1c-demo")

COURIERS = [
    ("courier-001", "Иван Петров", "+79161234567", "101"),
    ("courier-002", "Анна Смирнова", "+79267654321", "102"),
    ("courier-003", "Олег Кузнецов", None, None),
]
# SKU → name and price (roubles) of the phone parts the orders and backpacks carry.
PARTS = {
    "LCD-IP13-OLED": ("Дисплей iPhone 13 (OLED) в сборе", Decimal("8500.00")),
    "LCD-SM-A52": ("Дисплей Samsung Galaxy A52 с рамкой", Decimal("5200.00")),
    "BAT-IP11": ("Аккумулятор iPhone 11, 3110 мА·ч", Decimal("1900.00")),
    "BAT-SM-A51": ("Аккумулятор Samsung Galaxy A51 EB-BA515ABY", Decimal("1450.00")),
    "FPC-RN10-CHG": ("Шлейф зарядки Redmi Note 10 на плате", Decimal("650.00")),
    "FPC-IP12-PWR": ("Шлейф кнопки включения iPhone 12", Decimal("480.00")),
    "GLS-IP13": ("Защитное стекло iPhone 13", Decimal("350.00")),
}
# (order id, state, courier, customer, phone, address, lines: sku, qty)
ORDERS = [
    (
        "ww-demo-001",
        S.NEW,
        None,
        "Мария Волкова",
        "+74951234501",
        "Москва, ул. Тверская, 7, кв. 12",
        [("LCD-IP13-OLED", 1), ("GLS-IP13", 1)],
    ),
    (
        "ww-demo-002",
        S.ASSIGNED,
        "courier-001",
        "Сергей Лебедев",
        "+74997654302",
        "Москва, Ленинский пр-т, 32",
        [("BAT-IP11", 2)],
    ),
    (
        "ww-demo-003",
        S.IN_TRANSIT,
        "courier-001",
        "ООО «Ремфон»",
        "+74956543203",
        "Москва, ул. Профсоюзная, 56, сервисный центр",
        [("LCD-SM-A52", 1), ("FPC-RN10-CHG", 3)],
    ),
    (
        "ww-demo-004",
        S.DONE,
        "courier-002",
        "Екатерина Новикова",
        "+79031112204",
        "Москва, Кутузовский пр-т, 14",
        [("BAT-SM-A51", 1)],
    ),
    (
        "ww-demo-005",
        S.REJECTED,
        None,
        "Дмитрий Соколов",
        "+74959876505",
        "Москва, ул. Арбат, 20",
        [("FPC-IP12-PWR", 2)],
    ),
    (
        "ww-demo-006",
        S.DECLINED,
        "courier-002",
        "Алексей Морозов",
        "+74993216506",
        "Химки, ул. Московская, 3",
        [("LCD-IP13-OLED", 1)],
    ),
]
# What each courier's backpack is loaded with at the base: sku, qty.
LOADS = {
    "courier-001": [("LCD-SM-A52", 2), ("BAT-IP11", 4), ("FPC-RN10-CHG", 5), ("GLS-IP13", 10)],
    "courier-002": [("LCD-IP13-OLED", 1), ("BAT-SM-A51", 3), ("FPC-IP12-PWR", 4)],
}


def seed_couriers() -> Seeded:
    existing = set(Courier.objects.filter(pk__in=[row[0] for row in COURIERS]).values_list("pk", flat=True))
    for courier_id, name, phone, b24_user_id in COURIERS:
        if courier_id not in existing:
            services.courier_create(courier_id=courier_id, display_name=name, phone=phone, b24_user_id=b24_user_id)
    return Seeded("couriers", created=len(COURIERS) - len(existing), existing=len(existing))


def seed_orders() -> Seeded:
    """One order per state of WW-04, moved there the way the API moves it; an existing order id is skipped."""
    existing = set(Order.objects.filter(pk__in=[row[0] for row in ORDERS]).values_list("pk", flat=True))
    for order_id, state, courier_id, customer, phone, address, lines in ORDERS:
        if order_id not in existing:
            _order_in_state(order_id, state, courier_id, customer, phone, address, lines)
    return Seeded("Walking Warehouse orders", created=len(ORDERS) - len(existing), existing=len(existing))


def _order_in_state(order_id, state, courier_id, customer, phone, address, lines) -> None:
    items = [services.LineData(sku=sku, name=PARTS[sku][0], qty=qty, price=PARTS[sku][1]) for sku, qty in lines]
    total = sum((item["qty"] * item["price"] for item in items), Decimal("0"))
    services.order_create(
        id=order_id,
        lines=items,
        actor=MANAGER,
        title=", ".join(PARTS[sku][0] for sku, _ in lines),
        customer_name=customer,
        customer_phone=phone,
        delivery_address=address,
        order_id_1c=order_id.replace("ww-demo-", "УТ-000"),
        cod_amount=total,
    )
    if state == S.NEW:
        return
    if state == S.REJECTED:
        services.order_change_status(order_id=order_id, status=S.REJECTED, actor=MANAGER, reason="Клиент отменил заказ")
        return
    assignment = services.order_assign(order_id=order_id, courier_id=courier_id, actor=MANAGER)
    courier = services.Actor(role="courier", subject=courier_id)
    if state == S.DECLINED:
        services.assignment_decline(assignment_id=str(assignment.pk), actor=courier, reason="Не успеваю до конца смены")
        return
    services.assignment_accept(assignment_id=str(assignment.pk), actor=courier)
    if state == S.ASSIGNED:
        return
    services.order_change_status(order_id=order_id, status=S.IN_TRANSIT, actor=courier)
    if state == S.DONE:
        services.order_change_status(order_id=order_id, status=S.DONE, actor=courier, paid_amount=total)


def seed_stock() -> Seeded:
    """A morning load of each courier's backpack, once per courier (the movement's reference is the key)."""
    refs = {courier_id: f"demo-load-{courier_id}" for courier_id in LOADS}
    existing = set(StockMovement.objects.filter(ref__in=refs.values()).values_list("ref", flat=True).distinct())
    for courier_id, lines in LOADS.items():
        if refs[courier_id] not in existing:
            services.stock_move(
                courier_id=courier_id,
                kind=StockKind.LOAD,
                actor=MANAGER,
                items=[{"sku": sku, "qty": qty} for sku, qty in lines],
                ref=refs[courier_id],
            )
    return Seeded("backpack loads", created=len(LOADS) - len(existing), existing=len(existing))
