"""``python manage.py seed_demo``: demo data of every app and a staff account, to click through a fresh database."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.urls import reverse

from calls.demo import STATUSES, seed_calls
from couriers.demo import seed_couriers, seed_orders, seed_stock
from mastermobile.demo import Seeded, demo_staff_user
from returns.demo import seed_returns

MAX_CALLS = 10_000
ADMIN_PAGES = (
    ("call records", "admin:calls_callrecord_changelist"),
    ("call export runs", "admin:calls_callexport_changelist"),
    ("Walking Warehouse orders", "admin:couriers_order_changelist"),
    ("backpack stock", "admin:couriers_courierstock_changelist"),
    ("returns", "admin:returns_return_changelist"),
)


def calls_count(value: str) -> int:
    try:
        count = int(value)
    except ValueError:
        raise CommandError(f"--calls must be a whole number, not {value!r}") from None
    if not 0 <= count <= MAX_CALLS:
        raise CommandError(f"--calls must be between 0 and {MAX_CALLS}, not {count}")
    return count


class Command(BaseCommand):
    help = (
        "Create demo couriers, returns, Walking Warehouse orders in every state, backpack stock, a staff user "
        "and, with --calls N, call records in every status. Idempotent: a second run adds nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--calls",
            default="0",
            metavar="N",
            help=f"demo call records in total (0…{MAX_CALLS}; {len(STATUSES)} or more show every status); "
            "a later run with a larger N adds the difference",
        )
        parser.add_argument("--staff-username", default="demo-admin", help="the demo superuser (default demo-admin)")
        parser.add_argument(
            "--reset-password", action="store_true", help="give an existing demo staff user a new random password"
        )

    def handle(self, *args, calls: str, staff_username: str, reset_password: bool, **options) -> None:
        # Checked before anything is written: a bad value leaves the database as it was.
        total_calls = calls_count(calls)
        if not staff_username.strip():
            raise CommandError("--staff-username must not be empty")
        with transaction.atomic():
            results = [seed_couriers(), seed_returns(), seed_orders(), seed_stock()]
            results.append(seed_calls(total=total_calls))
            account = demo_staff_user(username=staff_username, reset_password=reset_password)
        for result in results:
            self.stdout.write(self._line(result))
        if account.password is None:
            self.stdout.write(
                f"staff user {account.username}: already there, password unchanged (--reset-password sets a new one)"
            )
        else:
            verb = "created" if account.created else "password reset"
            self.stdout.write(f"staff user {account.username}: {verb}; one-time password: {account.password}")
            self.stdout.write("  It is shown only now: log in and change it (top right, «Изменить пароль»).")
        base = f"http://{settings.APP_CONFIG.app_host}:{settings.APP_CONFIG.app_port}"
        self.stdout.write("Look at them in the admin (`make run`):")
        for label, name in ADMIN_PAGES:
            self.stdout.write(f"  {label}: {base}{reverse(name)}")

    @staticmethod
    def _line(result: Seeded) -> str:
        return f"{result.what}: {result.created} created, {result.existing} already there"
