"""``python manage.py storage_cleanup [--dry-run]``: one retention sweep with its counts (STT-30…STT-32)."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from calls import retention


class Command(BaseCommand):
    help = (
        "Delete stored recordings, transcripts, summaries and export files older than their retention "
        "windows and clear the matching text in the database; prints the counts per category."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="count what would be removed; delete and change nothing"
        )

    def handle(self, *args, **options) -> None:
        dry_run = options["dry_run"]
        windows = retention.retention_windows(settings.APP_CONFIG)
        for name, label in retention.CATEGORY_LABELS.items():
            days = windows[name]
            self.stdout.write(f"{label:<22} {'kept for ever (0)' if days == 0 else f'older than {days} days'}")
        try:
            result = retention.storage_cleanup(windows=windows, dry_run=dry_run, progress=self._progress)
        except retention.StorageUnavailable as error:
            raise CommandError(f"storage is unavailable, the sweep stopped: {error}") from error
        self._summary(result)

    def _progress(self, prefix: str, listed: int, expired: int) -> None:
        self.stdout.write(f"{prefix}: {listed} files listed, {expired} expired")

    def _summary(self, result: retention.CleanupResult) -> None:
        verb = "would remove" if result.dry_run else "removed"
        self.stdout.write(f"\n{'category':<22} {verb:>12} {'failed':>8} {'bytes':>14}")
        for name, counts in result.categories.items():
            label = retention.CATEGORY_LABELS[name]
            self.stdout.write(f"{label:<22} {counts.removed:>12} {counts.failed:>8} {counts.bytes:>14}")
        self.stdout.write(
            f"\nlocal_removed={result.local_removed} s3_removed={result.s3_removed} "
            f"total_removed={result.total_removed} failed={result.total_failed}"
        )
        self.stdout.write(
            f"database: audio_purged={result.audio_purged} transcripts_purged={result.transcripts_purged} "
            f"summaries_purged={result.summaries_purged}"
        )
        if result.dry_run:
            self.stdout.write("dry run: nothing was deleted or changed")
        if result.total_failed:
            # The sweep went on past them; the log has one storage.cleanup_failed line per file.
            raise CommandError(f"{result.total_failed} files could not be deleted; see the storage.cleanup_failed logs")
