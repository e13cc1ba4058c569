"""Delete expired Idempotency-Key records (the hourly schedule does the same)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from mastermobile.api.idempotency import prune_expired_records


class Command(BaseCommand):
    help = "Delete IdempotencyRecord rows whose 72-hour lifetime has ended."

    def handle(self, *args, **options) -> None:
        deleted = prune_expired_records()
        self.stdout.write(f"deleted {deleted} expired idempotency record(s)")
