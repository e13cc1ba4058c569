"""The calls overview as staff see it after a real export: headless Chromium, 1400 × 900, Russian.

The data comes from an export run against the fake Bitrix24 portal with
transcription through the fake OpenAI, a few recordings and transcriptions
failing on the way.  ``var/screenshots/calls_overview.png`` is written before
anything is judged, so it is there to look at whether the test passes or not.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Browser, ConsoleMessage, ViewportSize

from calls import services
from calls.models import CallRecordStatus
from tests.browser import in_browser
from tests.fakes.openai import FakeOpenAI
from tests.platform.test_admin_screenshots import BusyPortal

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

VIEWPORT: ViewportSize = {"width": 1400, "height": 900}
MEASURE = """() => ({
    scrollWidth: document.documentElement.scrollWidth,
    charts: document.querySelectorAll('svg.mm-chart').length,
    chartWidths: [...document.querySelectorAll('svg.mm-chart')].map(svg => Math.round(svg.getBoundingClientRect().width)),
    tiles: document.querySelectorAll('.mm-tile').length,
    employees: document.querySelectorAll('.mm-overview-employees tbody tr').length,
})"""


@pytest.fixture
def exported(settings, tmp_path):
    """A month of calls exported and transcribed for real; returns the period's first and last day."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "storage"},
        },
    }
    with BusyPortal(calls=120, days=30, rate=0) as portal, FakeOpenAI() as provider:
        settings.APP_CONFIG = dataclasses.replace(
            settings.APP_CONFIG,
            b24_base_url=portal.base_url,
            b24_webhook_user_id=portal.user_id,
            b24_webhook_token=portal.token,
            b24_rate_limit_rps=0,
            b24_backoff_seconds=0,
            request_timeout_s=5,
            openai_api_key=provider.api_key,
            openai_base_url=provider.base_url,
            stt_max_file_minutes=60,
            stt_retry_delays_s=(0.0,),
            call_export_budget_usd=Decimal("0.90"),
        )
        for item in portal.items[5::23]:
            portal.recording_faults[item["CALL_ID"]] = "404"
        provider.fail_next(400, times=3, only="transcription")
        now = timezone.now()
        run, _ = services.call_export_start(
            period_from=now - timedelta(days=31), period_to=now + timedelta(minutes=1), options={"trigger": "manual"}
        )
        run = services.call_export_process(run=run)
    assert run.records.filter(status=CallRecordStatus.COMPLETED).count() > 80
    assert run.records.filter(status=CallRecordStatus.ERROR).exists()
    today = timezone.localdate()
    return today - timedelta(days=30), today


def shoot(browser: Browser, url: str, cookie: str, path: Path) -> tuple[int, dict, list[str]]:
    context = browser.new_context(
        viewport=VIEWPORT,
        locale="ru-RU",
        timezone_id="Europe/Moscow",
        extra_http_headers={"Accept-Language": "ru-RU,ru;q=0.9"},
    )
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": url}])
    errors: list[str] = []
    try:
        tab = context.new_page()

        def console(message: ConsoleMessage) -> None:
            if message.type == "error":
                errors.append(_console_line(message))

        tab.on("console", console)
        tab.on("requestfailed", lambda request: errors.append(f"{request.url}: {request.failure}"))
        response = tab.goto(url, wait_until="load")
        assert response is not None
        measured = tab.evaluate(MEASURE)
        tab.screenshot(path=path, full_page=True)
    finally:
        context.close()
    return response.status, measured, errors


def _console_line(message: ConsoleMessage) -> str:
    """A console error, with where it came from; Chromium's favicon probe (the admin has none) is not one."""
    source = message.location.get("url", "")
    return "" if source.endswith("/favicon.ico") else f"{message.text} ({source})"


def test_the_overview_of_an_exported_month_fits_1400_px_with_its_charts(live_server, exported):
    first, last = exported
    folder = settings.BASE_DIR / "var" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    staff = Client()
    staff.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))
    cookie = staff.cookies[settings.SESSION_COOKIE_NAME].value
    url = f"{live_server.url}{reverse('admin:calls_overview')}?date_from={first}&date_to={last}"

    status, measured, errors = in_browser(lambda browser: shoot(browser, url, cookie, folder / "calls_overview.png"))

    assert status == 200
    assert measured["scrollWidth"] <= VIEWPORT["width"], f"the page is {measured['scrollWidth']} px wide"
    assert measured["charts"] == 3 and min(measured["chartWidths"]) > 1000
    assert measured["tiles"] == 7 and measured["employees"] == 10
    assert [line for line in errors if line] == []
