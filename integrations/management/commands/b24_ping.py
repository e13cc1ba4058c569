"""``python manage.py b24_ping``: the go/no-go check for Bitrix24 access (B24-14)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, time, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from integrations.bitrix24 import Bitrix24Error, client_from_config, recording_url_of

REQUIRED = (
    ("B24_BASE_URL", "b24_base_url"),
    ("B24_WEBHOOK_USER_ID", "b24_webhook_user_id"),
    ("B24_WEBHOOK_TOKEN", "b24_webhook_token"),
)
HINTS = {
    401: "verify B24_WEBHOOK_USER_ID and B24_WEBHOOK_TOKEN",
    403: "check webhook permissions or IP restrictions",
    429: "rate limit reached, retry later",
}
NO_RECORDING = "not available — enable call recording in Bitrix24 or check webhook permissions."
PING_TIMEOUT_S = 30.0


class Command(BaseCommand):
    help = "Call voximplant.statistic.get once for the previous UTC day; exit 0 when Bitrix24 answers with data."

    def handle(self, *args, **options) -> None:
        config = settings.APP_CONFIG
        for name, attribute in REQUIRED:
            if not str(getattr(config, attribute) or "").strip():
                self._fail(f"Missing required environment variable: {name}")
        client = client_from_config(
            dataclasses.replace(config, request_timeout_s=PING_TIMEOUT_S, b24_max_attempts=1, b24_use_batch=False)
        )
        day = datetime.now(UTC).date() - timedelta(days=1)
        date_from = datetime.combine(day, time(0, 0, 0), tzinfo=UTC)
        date_to = datetime.combine(day, time(23, 59, 59), tzinfo=UTC)
        try:
            page = client.fetch_page(client.list_params(date_from, date_to), 0)
        except Bitrix24Error as error:
            self._fail(self._explain(error))

        recorded = [url for url in (recording_url_of(item) for item in page.items) if url]
        total = page.total if page.total is not None else len(page.items)
        self.stdout.write(f"Bitrix24 Voximplant statistics for {_z(date_from)} – {_z(date_to)}")
        self.stdout.write(f"calls_total: {total}")
        self.stdout.write(f"calls_with_recording: {len(recorded)}{_sample_note(len(page.items), total)}")
        # A recording URL carries the portal's access key (auth=…): the example is masked like any URL.
        example = client.mask(recorded[0]) if recorded else NO_RECORDING
        self.stdout.write(f"recording_url (example): {example}")

    @staticmethod
    def _explain(error: Bitrix24Error) -> str:
        if error.status_code is None:
            return f"Request failed: {error}"
        hint = HINTS.get(error.status_code, f"Request failed with status {error.status_code}.")
        if error.status_code == 200:
            hint = f"Bitrix24 answered 200 with error {error.error or 'payload'}: {error.description or error}"
        return f"{hint}\n{error.body or ''}".rstrip()

    def _fail(self, message: str) -> None:
        self.stderr.write(message)
        raise SystemExit(1)


def _sample_note(read: int, total: int) -> str:
    """The ping reads one page: when the day has more calls, say what the recording count covers."""
    if read >= total:
        return ""
    return " " + _("(of the first %(read)d calls: the ping reads one page of %(total)d calls)") % {
        "read": read,
        "total": total,
    }


def _z(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
