"""``python manage.py call_registry``: the call registry of a period to a file, as the API streams it (EXP-07)."""

from __future__ import annotations

import getpass
import os
import sys
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from calls import services
from calls.management.arguments import RawStream, period_bound
from calls.models import RegistryDownload
from calls.registry import EXPORT_COLUMNS, REGISTRY_COLUMNS, registry_download
from calls.selectors import registry as registry_selectors


class Command(BaseCommand):
    help = (
        "Write the call registry of a period (calls started from --from to --to, inclusive) as CSV "
        "(the 20 EXP-01 columns, UTF-8 with BOM, ';', CRLF) or JSON (the 21 keys of the JSON export)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--from",
            dest="date_from",
            help="first day (YYYY-MM-DD or YYYYMMDD, local time zone) or date-time; default today − 60 days",
        )
        parser.add_argument("--to", dest="date_to", help="last day, inclusive, or date-time; default today")
        parser.add_argument("--format", choices=["csv", "json"], default="csv")
        parser.add_argument(
            "--output",
            help="file to write (replaced only once complete), or - for standard output; "
            "default calls_<from>_<to>.<format> in the current directory",
        )
        parser.add_argument(
            "--unmasked",
            action="store_true",
            help="real phone numbers and recording URLs even when PII_MASKING_ENABLED is on (audited)",
        )

    def handle(self, *args, date_from: str | None, date_to: str | None, output: str | None, **options) -> None:
        default_from, default_to = services.default_period()
        period_from = period_bound(date_from, end=False) if date_from else default_from
        period_to = period_bound(date_to, end=True) if date_to else default_to
        if period_to < period_from:
            raise CommandError(f"--to ({period_to.isoformat()}) is before --from ({period_from.isoformat()})")
        export_format = options["format"]
        zone = ZoneInfo(settings.APP_CONFIG.call_export_timezone)
        local_from, local_to = period_from.astimezone(zone).date(), period_to.astimezone(zone).date()
        target = output or f"calls_{local_from.isoformat()}_{local_to.isoformat()}.{export_format}"
        if target != "-":
            _check_writable(Path(target))
        total = registry_selectors.registry_records(period_from=period_from, period_to=period_to).count()
        self.stderr.write(f"period: {period_from.isoformat()} – {period_to.isoformat()}; {total} calls")

        progress = self._progress(total)
        chunks = registry_download(
            export_format=export_format,
            columns=REGISTRY_COLUMNS if export_format == "csv" else EXPORT_COLUMNS,
            filters={"period_from": period_from, "period_to": period_to},
            unmasked=options["unmasked"],
            principal=f"command:{_operator()}",
            user=None,
            channel=RegistryDownload.Channel.COMMAND,
            endpoint="manage.py call_registry",
            on_progress=progress.update_to,
        )
        try:
            if target == "-":
                for chunk in chunks:
                    sys.stdout.buffer.write(chunk)
                sys.stdout.buffer.flush()
            else:
                _write_atomically(Path(target), chunks)
        finally:
            progress.close()
        if target != "-":
            self.stderr.write(f"wrote {total} calls to {target}")

    def _progress(self, total: int) -> _Progress:
        return _Progress(self.stderr, total=total, tty=self.stderr.isatty())


class _Progress:
    """A tqdm bar of rows on a terminal; a line every 10 000 rows and at the end otherwise."""

    def __init__(self, stream, *, total: int, tty: bool):
        self.stream = stream
        self.total = total
        self.bar = tqdm(total=total, unit="call", file=RawStream(stream)) if tty else None
        self.last_line = 0

    def update_to(self, done: int) -> None:
        if self.bar is not None:
            self.bar.update(done - self.bar.n)
        elif done != self.last_line and (done - self.last_line >= 10_000 or done == self.total):
            self.stream.write(f"{done}/{self.total} calls")
            self.last_line = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _write_atomically(target: Path, chunks) -> None:
    """Write next to ``target`` and rename: a failed export leaves no half-written file (nor an old one replaced)."""
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        os.fchmod(descriptor, 0o666 & ~_umask())  # mkstemp's 0600 would hide the file from its group
        with os.fdopen(descriptor, "wb") as stream:
            for chunk in chunks:
                stream.write(chunk)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _check_writable(target: Path) -> None:
    if target.is_dir():
        raise CommandError(f"cannot write {target}: it is a directory")
    if not target.parent.is_dir():
        raise CommandError(f"cannot write {target}: {target.parent} is not a directory")
    if not os.access(target.parent, os.W_OK):
        raise CommandError(f"cannot write {target}: {target.parent} is not writable")


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
