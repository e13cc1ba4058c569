"""The transcript pages as staff see them on a laptop: headless Chromium, 1366 × 768, Russian.

Screenshots go to ``var/screenshots/calls-transcript-*.png`` before anything
is judged, so they are there to look at whether the test passes or not.
Each page must answer 200, fit the width without scrolling sideways and show
what it is for on the first screen: the record page its player and the start
of the text, the search page its first hits.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from playwright.sync_api import Browser, ViewportSize

from calls.models import CallRecordStatus
from tests.browser import in_browser
from tests.calls.transcripts import DIALOGUE, make_record, make_transcribed
from tests.fakes.audio import wav_bytes

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

VIEWPORT: ViewportSize = {"width": 1366, "height": 768}
MEASURE = """(selectors) => {
    const boxes = {};
    for (const selector of selectors) {
        const element = document.querySelector(selector);
        boxes[selector] = element ? element.getBoundingClientRect().top : null;
    }
    return {scrollWidth: document.documentElement.scrollWidth, tops: boxes};
}"""
LONG_DIALOGUE = "\n".join(
    [
        DIALOGUE,
        *(
            f"Клиент: Уточню ещё: в заказе {n} позиции, курьер должен позвонить за час до приезда."
            if n % 2
            else f"Оператор: Записала, комментарий {n} передам курьеру вместе с заказом."
            for n in range(1, 25)
        ),
    ]
)


@dataclass(frozen=True)
class Page:
    name: str
    path: str
    # Elements that must start within the first screen.
    first_screen: tuple[str, ...]


@dataclass(frozen=True)
class Shot:
    page: Page
    status: int
    scroll_width: int
    tops: dict[str, float | None]


def shoot_all(browser: Browser, base_url: str, cookie: str, pages: list[Page], folder: Path) -> list[Shot]:
    context = browser.new_context(
        viewport=VIEWPORT,
        locale="ru-RU",
        timezone_id="Europe/Moscow",
        extra_http_headers={"Accept-Language": "ru-RU,ru;q=0.9"},
    )
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": base_url}])
    shots = []
    try:
        for page in pages:
            tab = context.new_page()
            response = tab.goto(base_url + page.path, wait_until="load")
            assert response is not None
            measured = tab.evaluate(MEASURE, list(page.first_screen))
            tab.screenshot(path=folder / f"{page.name}.png", full_page=True)
            tab.close()
            shots.append(Shot(page, response.status, measured["scrollWidth"], measured["tops"]))
    finally:
        context.close()
    return shots


@pytest.fixture
def pages(storage_dir) -> list[Page]:
    audio = storage_dir / "raw" / "2026" / "10" / "01" / "call.wav"
    audio.parent.mkdir(parents=True)
    audio.write_bytes(wav_bytes(0, seconds=20))
    bullets = [
        "Клиент оформил заказ вчера, курьер не приехал.",
        "Заказ 10452, доставка на Тверскую.",
        "Курьер приедет завтра с 10 до 14 часов.",
    ]
    transcribed = make_transcribed(
        LONG_DIALOGUE,
        bullets=bullets,
        storage_path="raw/2026/10/01/call.wav",
        checksum="0" * 64,
        audio_duration_sec=20.0,
        audio_format="wav",
        audio_codec="pcm_s16le",
    )
    for text in (
        "Клиент: Здравствуйте, хочу узнать, где мой заказ. Оператор: Заказ передан курьеру, он приедет сегодня.",
        "Оператор: Заказы на эту неделю уже распределены. Клиент: Тогда перенесите мой заказ на понедельник.",
        "Клиент: <b>Срочно</b>: курьер привёз не тот заказ, нужен возврат.",
    ):
        make_transcribed(text)
    waiting = make_record(status=CallRecordStatus.DOWNLOADED)
    change = "admin:calls_callrecord_change"
    return [
        Page("calls-transcript-record", reverse(change, args=[transcribed.pk]), ("audio", ".mm-transcript-text")),
        Page("calls-transcript-record-waiting", reverse(change, args=[waiting.pk]), (".mm-transcript-note",)),
        Page(
            "calls-transcript-search",
            reverse("admin:calls_callrecord_transcript_search") + "?q=заказ",
            ("#searchbar", ".mm-snippet mark"),
        ),
        Page(
            "calls-transcript-changelist",
            reverse("admin:calls_callrecord_changelist") + "?transcript=yes",
            ("#result_list", ".object-tools"),
        ),
    ]


def test_the_transcript_pages_fit_a_laptop_screen(live_server, pages, settings):
    folder = settings.BASE_DIR / "var" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    staff = Client()
    staff.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))
    cookie = staff.cookies[settings.SESSION_COOKIE_NAME].value

    shots = in_browser(lambda browser: shoot_all(browser, live_server.url, cookie, pages, folder))

    for shot in shots:
        assert shot.status == 200, shot.page.name
        assert shot.scroll_width <= VIEWPORT["width"], f"{shot.page.name} is {shot.scroll_width} px wide"
        for selector, top in shot.tops.items():
            assert top is not None, f"{shot.page.name}: no {selector}"
            assert top < VIEWPORT["height"], f"{shot.page.name}: {selector} starts at {top} px, below the first screen"
