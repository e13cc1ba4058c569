"""Headless Chromium for tests: Debian's ``chromium`` package driven by Playwright.

Playwright never downloads a browser here (``playwright install`` is not used):
it launches the system's ``/usr/bin/chromium``.  Tests that use it are marked
``browser`` and are skipped where that file is missing (see ``tests/conftest.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM = Path("/usr/bin/chromium")

T = TypeVar("T")


def in_browser(work: Callable[[Browser], T]) -> T:
    """Run ``work(browser)`` in a thread of its own with a fresh headless Chromium; return what it returns.

    Playwright's sync API keeps an asyncio loop running in the thread that
    uses it, and Django refuses ORM calls from such a thread
    (``SynchronousOnlyOperation``).  Keeping the browser in its own thread
    leaves the test's thread free for the database, before and after.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="chromium") as pool:
        return pool.submit(_run, work).result()


def _run(work: Callable[[Browser], T]) -> T:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            return work(browser)
        finally:
            browser.close()
