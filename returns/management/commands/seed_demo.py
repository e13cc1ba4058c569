"""``python manage.py seed_demo``: couriers and returns to click through on a fresh database."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from returns import services
from returns.models import Courier, Return

COURIERS = [
    ("courier-001", "Ivan Petrov", "+79161234567"),
    ("courier-002", "Anna Smirnova", "+79267654321"),
    ("courier-003", "Oleg Kuznetsov", None),
]
RETURNS = [
    ("warehouse", "courier-001", "ORD-1001", [("SKU-1001", 1, "new", "customer_changed_mind")]),
    (
        "widget",
        "courier-001",
        "ORD-1002",
        [("SKU-2001", 2, "defect", "broken_screen"), ("SKU-2002", 1, "new", "wrong_item")],
    ),
    ("call_center", "courier-002", None, [("SKU-3001", 1, "unknown", "not_delivered")]),
    ("warehouse", "courier-777", "ORD-1004", [("SKU-4001", 3, "defect", "battery_swollen")]),
]
DEMO_ACTOR = "seed_demo"


class Command(BaseCommand):
    help = "Create demo couriers and returns (idempotent: does nothing when demo returns already exist)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help="add the demo returns again even if some exist")

    @transaction.atomic
    def handle(self, *args, force: bool, **options) -> None:
        for courier_id, name, phone in COURIERS:
            Courier.objects.get_or_create(courier_id=courier_id, defaults={"display_name": name, "phone": phone})
        if Return.objects.filter(created_by=DEMO_ACTOR).exists() and not force:
            self.stdout.write("demo data already present; nothing to do (use --force to add more)")
            return
        for source, courier_id, order_id, lines in RETURNS:
            services.return_create(
                source=source,
                courier_id=courier_id,
                order_id_1c=order_id,
                created_by=DEMO_ACTOR,
                items=[
                    {"sku": sku, "qty": qty, "quality": quality, "reason_code": reason}
                    for sku, qty, quality, reason in lines
                ],
            )
        self.stdout.write(f"created {len(COURIERS)} couriers and {len(RETURNS)} returns (one with an unknown courier)")
