"""``python manage.py call_report --run RUN_ID [--package]``: regenerate a run's report (EXP-08) or package (EXP-07)."""

from __future__ import annotations

import uuid

from django.core.management.base import BaseCommand, CommandError, CommandParser

from calls import services
from calls.models import CallExport
from calls.reports import ReportError


class Command(BaseCommand):
    help = (
        "Regenerate the report summary_<period>.md of a run (QA verdicts included); --package rebuilds all three files."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--run", required=True, dest="run_id", help="run_id of a finished, non-dry run")
        parser.add_argument(
            "--package", action="store_true", help="also rewrite the registry CSV and the JSONL stage log"
        )

    def handle(self, *args, **options) -> None:
        try:
            run_id = uuid.UUID(options["run_id"])
        except ValueError:
            raise CommandError(f"{options['run_id']!r} is not a run id (a UUID)") from None
        run = CallExport.objects.filter(pk=run_id).first()
        if run is None:
            raise CommandError(f"no run {run_id}")
        try:
            keys = (
                services.call_export_package(run=run) if options["package"] else [services.call_export_report(run=run)]
            )
        except ReportError as error:
            raise CommandError(str(error)) from None
        for key in keys:
            self.stdout.write(key)
