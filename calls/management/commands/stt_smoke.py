"""``python manage.py stt_smoke``: a short transcription pass over a prepared playlist, with a report (STT-50…STT-54)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from calls import smoke
from integrations.stt import TranscriptionDisabled, recording_settings_from_config, transcriber_for_engine

DEFAULT_REPORT = Path("build/stt_smoke_report.json")
# STT-53: 1 when an item failed, 2 for a usage or configuration error.
FAILED = 1
USAGE = 2


class Command(BaseCommand):
    help = (
        "Transcribe a smoke playlist (playlist.json or a directory of audio files) with the production "
        "provider code; write the transcripts, a JSON and a Markdown report. Exit 0: all succeeded, "
        "1: a failure, 2: usage or configuration error."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--playlist", required=True, type=Path, help="playlist.json, or a directory of audio files")
        parser.add_argument(
            "--report", type=Path, default=DEFAULT_REPORT, help=f"JSON report; default {DEFAULT_REPORT}"
        )
        parser.add_argument("--markdown-report", type=Path, help="Markdown report; default the report path with .md")
        parser.add_argument(
            "--pattern",
            action="append",
            dest="patterns",
            metavar="GLOB",
            help=f"directory mode: files to take, repeatable; default {' '.join(smoke.DEFAULT_PATTERNS)}",
        )
        parser.add_argument("--engine", help="openai-whisper or stub; default the playlist's, else STT_DEFAULT_ENGINE")
        parser.add_argument("--language", help="language hint (ISO 639-1); default the playlist's, else none")

    def handle(self, *args, **options) -> None:
        config = settings.APP_CONFIG
        report_path: Path = options["report"]
        markdown_path: Path = options["markdown_report"] or report_path.with_suffix(".md")
        try:
            playlist = smoke.load_playlist(options["playlist"], patterns=options["patterns"] or smoke.DEFAULT_PATTERNS)
            language = smoke.language_hint_for(options["language"], playlist)
        except smoke.SmokeUsageError as error:
            raise CommandError(str(error), returncode=USAGE) from None
        engine = options["engine"] or playlist.engine or config.stt_default_engine
        try:
            transcriber = transcriber_for_engine(config, engine)
        except (TranscriptionDisabled, ValueError) as error:  # STT off, or an unknown engine
            raise CommandError(f"engine {engine} is unavailable: {error}", returncode=USAGE) from None

        now = datetime.now(UTC)
        with transcriber:
            report = smoke.run_smoke(
                playlist,
                transcriber=transcriber,
                settings=recording_settings_from_config(config, engine),
                engine=engine,
                language=language,
                output_dir=smoke.output_dir_for(report_path, now),
                now=now,
            )
        smoke.write_reports(report, json_path=report_path, markdown_path=markdown_path)

        for entry in report.entries:
            if not entry.succeeded:
                self.stderr.write(f"{entry.item.source_file}: {entry.error_code}: {entry.error_message}")
        self.stdout.write(
            f"Processed {len(report.entries)} file(s). Success: {report.success}, errors: {report.failed}."
        )
        self.stdout.write(f"JSON report: {smoke.shown(report_path)}")
        self.stdout.write(f"Markdown report: {smoke.shown(markdown_path)}")
        if report.failed:
            raise CommandError(f"{report.failed} of {len(report.entries)} file(s) failed", returncode=FAILED)
