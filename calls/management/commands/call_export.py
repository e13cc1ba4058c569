"""``python manage.py call_export``: start or resume a Bitrix24 call export run (OPS-11, OPS-14)."""

from __future__ import annotations

import shutil
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.translation import gettext as _

from calls import services
from calls.management.arguments import RawStream, period_bound, yes_no
from calls.models import CallExport, CallExportStatus
from integrations.bitrix24 import Bitrix24Error
from mastermobile.q import cluster_running

if TYPE_CHECKING:
    from tqdm import tqdm

POLL_SECONDS = 1.0
# What a shell reports for a process ended by SIGINT (128 + 2).
INTERRUPTED_EXIT_CODE = 130


class Progress:
    """A tqdm bar per stage on a terminal; plain lines otherwise."""

    def __init__(self, stream, *, tty: bool):
        self.stream = stream
        self.tty = tty
        self.bars: dict[str, tqdm | None] = {}
        self.last_line: dict[str, float] = {}

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if self.tty:
            from tqdm import tqdm

            if total == 0:
                return

            bar = self.bars.get(stage)
            if bar is None and stage in self.bars:
                return  # a finished stage reporting late
            if bar is None:
                self.close()
                unit = "call" if stage == "listing" else "recording"
                columns = shutil.get_terminal_size().columns or 80
                bar = self.bars[stage] = tqdm(
                    total=total, desc=stage, unit=unit, file=RawStream(self.stream), ncols=columns
                )
            if total is not None and bar.total != total:
                bar.total = total
            bar.n = done
            bar.refresh()
            return
        now = time.monotonic()
        final = total is not None and done >= total
        if final or done == 0 or now - self.last_line.get(stage, 0) >= 1.0:
            self.last_line[stage] = now
            self.stream.write(f"{stage}: {done}/{total if total is not None else '?'}\n")
            self.stream.flush()

    def close(self) -> None:
        for stage, bar in list(self.bars.items()):
            if bar is not None:
                bar.close()
                self.bars[stage] = None


class Command(BaseCommand):
    help = "Export Bitrix24 calls for a period: list, download recordings, report progress until the run is final."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--from",
            dest="date_from",
            help="first day (YYYY-MM-DD or YYYYMMDD: the whole day in CALL_EXPORT_TIMEZONE) or an ISO-8601 "
            "date-time (UTC unless it names an offset); default today − CALL_EXPORT_DEFAULT_DAYS",
        )
        parser.add_argument(
            "--to", dest="date_to", help="last day, inclusive (same forms), or an ISO-8601 date-time; default today"
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="count calls, recordings, minutes and cost; saves only the run with its estimate "
            "(no call records, no recordings)",
        )
        parser.add_argument("--resume", metavar="RUN_ID", help="continue a run from its checkpoint")
        parser.add_argument("--generate-summary", type=yes_no, default=None, metavar="true|false")
        parser.add_argument("--no-wait", action="store_true", help="queue the run on django-q2 and return")

    def handle(self, *args, **options) -> None:
        run: CallExport | None = None
        try:
            if options["resume"]:
                run = self._resume(options["resume"])
            else:
                run = self._start(options)
            self._follow(run, options)
        except KeyboardInterrupt:
            # Ctrl-C: state lives in the database, so the run continues where it stopped; no traceback.
            if run is None:
                self.stderr.write(_("Interrupted before a run was created."))
            else:
                self.stderr.write(
                    _("Interrupted; continue the run with: manage.py call_export --resume %(run_id)s")
                    % {"run_id": run.run_id}
                )
            raise SystemExit(INTERRUPTED_EXIT_CODE) from None

    def _follow(self, run: CallExport, options: dict) -> None:
        if options["no_wait"]:
            services.call_export_enqueue(run)
            self.stdout.write("Queued on django-q2; follow it in the admin.")
            return
        progress = Progress(self.stdout, tty=self.stdout.isatty())
        try:
            if cluster_running():
                services.call_export_enqueue(run)
                run = self._wait(run, progress)
            else:
                self.stdout.write("No django-q2 cluster is running; processing the run in this process.")
                run = services.call_export_process(run=run, progress=progress)
        except Bitrix24Error as error:
            raise CommandError(f"Run {run.run_id} failed: {error}") from None
        finally:
            progress.close()
        self._report(run)

    def _start(self, options: dict) -> CallExport:
        default_from, default_to = services.default_period()
        period_from = period_bound(options["date_from"], end=False) if options["date_from"] else default_from
        period_to = period_bound(options["date_to"], end=True) if options["date_to"] else default_to
        run_options: dict = {"trigger": "manual", "dry_run": options["dry_run"]}
        if options["generate_summary"] is not None:
            run_options["generate_summary"] = options["generate_summary"]
        try:
            run, created = services.call_export_start(
                period_from=period_from, period_to=period_to, actor=None, options=run_options
            )
        except services.CallExportError as error:
            raise CommandError(str(error)) from None
        note = "" if created else " (already active for this period; continuing it)"
        self.stdout.write(f"run_id: {run.run_id}{note}")
        self.stdout.write(f"period: {_resolved(period_from, period_to)}")
        if period_from > timezone.now():
            self.stderr.write(
                _("Warning: the period starts in the future (%(start)s); Bitrix24 has no calls there yet.")
                % {"start": period_from.isoformat()}
            )
        return run

    def _resume(self, run_id: str) -> CallExport:
        try:
            run = CallExport.objects.get(pk=uuid.UUID(run_id))
        except (CallExport.DoesNotExist, ValueError):
            raise CommandError(f"No run {run_id}") from None
        try:
            run = services.call_export_resume(run=run)
        except services.CallExportError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"run_id: {run.run_id} (resumed from offset {run.checkpoint.get('next') or 0})")
        return run

    def _wait(self, run: CallExport, progress: Progress) -> CallExport:
        while True:
            run.refresh_from_db()
            if run.listed_total is not None:
                progress("listing", int(run.checkpoint.get("seen", 0)), run.listed_total)
            if run.checkpoint.get("listed") and not run.is_dry_run:
                progress("download", run.processed_calls, run.total_calls)
            if run.is_final or run.status == CallExportStatus.ERROR:
                return run
            time.sleep(POLL_SECONDS)

    def _report(self, run: CallExport) -> None:
        run.refresh_from_db()
        if run.is_dry_run:
            estimate = run.options.get("estimate", {})
            self.stdout.write(
                f"dry run {run.status}: {estimate.get('calls', 0)} calls, "
                f"{estimate.get('with_recording', 0)} with a recording, {estimate.get('minutes', 0)} min, "
                f"estimated cost {estimate.get('cost_usd', '0.00')} USD; "
                f"STT {'enabled' if estimate.get('stt_enabled') else 'disabled'}, "
                f"storage {'writable' if estimate.get('storage_writable') else 'NOT writable'}"
            )
            return
        skipped = ", ".join(f"{code} {count}" for code, count in sorted(run.skipped_by_reason.items()))
        self.stdout.write(
            f"run {run.status}: {run.total_calls} calls, {run.processed_calls} final; "
            f"{run.downloaded_calls} recordings downloaded, "
            f"{run.skipped_calls} skipped{f' ({skipped})' if skipped else ''}, "
            f"{run.error_calls} error, {run.missing_audio_calls} missing audio; "
            f"{run.total_duration_sec // 60} min of calls"
        )
        transcribed = run.records.filter(status="completed").count()
        if transcribed or run.transcribed_minutes:
            self.stdout.write(
                f"transcribed {transcribed} recording(s), {run.transcribed_minutes} billable min, "
                f"cost {run.total_cost} {run.currency_code}"
            )
        waiting = run.total_calls - run.processed_calls
        if run.status == CallExportStatus.IN_PROGRESS and waiting:
            self.stdout.write(
                f"{waiting} record(s) wait for a retry; the supervisor schedule retries them, "
                f"or run: manage.py call_export --resume {run.run_id}"
            )
        if run.status == CallExportStatus.ERROR:
            self.stderr.write(f"run {run.run_id} failed: {run.error_message or 'no reason recorded'}")
            self.stderr.write(f"after fixing the cause: manage.py call_export --resume {run.run_id}")
            sys.exit(1)


def _resolved(period_from: datetime, period_to: datetime) -> str:
    """The period as the run will list it: in CALL_EXPORT_TIMEZONE, then in UTC (what Bitrix24 is asked for)."""
    zone = ZoneInfo(settings.APP_CONFIG.call_export_timezone)
    local = f"{period_from.astimezone(zone).isoformat()} – {period_to.astimezone(zone).isoformat()}"
    return f"{local} (UTC {_z(period_from)} – {_z(period_to)})"


def _z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
