"""Demo returns (``manage.py seed_demo``): four returns of phone parts, one from a courier 1C does not know yet."""

from __future__ import annotations

from mastermobile.demo import DEMO_ACTOR, Seeded
from returns import services
from returns.models import Return

# (1C order, source, courier, comment, lines: sku, qty, quality, reason)
RETURNS = [
    (
        "ЗК-000101",
        "warehouse",
        "courier-001",
        "Клиент передумал, упаковка целая",
        [("LCD-IP13-OLED", 1, "new", "customer_changed_mind")],
    ),
    (
        "ЗК-000102",
        "widget",
        "courier-001",
        "Дисплей с полосами после установки, аккумулятор не тот",
        [("LCD-SM-A52", 2, "defect", "broken_screen"), ("BAT-IP11", 1, "new", "wrong_item")],
    ),
    (
        "ЗК-000103",
        "call_center",
        "courier-002",
        "Клиента не было дома",
        [("FPC-RN10-CHG", 1, "unknown", "not_delivered")],
    ),
    (
        "ЗК-000104",
        "warehouse",
        "courier-777",
        "Аккумуляторы вздулись при хранении",
        [("BAT-SM-A51", 3, "defect", "battery_swollen")],
    ),
]


def seed_returns() -> Seeded:
    """One return per demo 1C order; an order that already has a demo return is skipped."""
    existing = set(
        Return.objects.filter(created_by=DEMO_ACTOR, order_id_1c__in=[row[0] for row in RETURNS]).values_list(
            "order_id_1c", flat=True
        )
    )
    created = 0
    for order_id, source, courier_id, comment, lines in RETURNS:
        if order_id in existing:
            continue
        services.return_create(
            source=source,
            courier_id=courier_id,
            order_id_1c=order_id,
            comment=comment,
            created_by=DEMO_ACTOR,
            items=[
                {"sku": sku, "qty": qty, "quality": quality, "reason_code": reason}
                for sku, qty, quality, reason in lines
            ],
        )
        created += 1
    return Seeded("returns", created=created, existing=len(existing))
