"""/api/docs/ and /api/redoc/ work offline: every file they load is served by the app itself (PLAT-13)."""

from __future__ import annotations

import re
import sys
import urllib.request
from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest

from tests.processes import free_port, http_get, manage, process_env, running

pytestmark = pytest.mark.slow

ABSOLUTE_URL = re.compile(r"https?://[^\s\"'<>]+")


class AssetLinks(HTMLParser):
    """Collects what a page makes the browser load: ``<script src>`` and ``<link href>``."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href"}.get(tag)
        url = dict(attrs).get(wanted) if wanted else None
        if url:
            self.urls.append(url)


def asset_urls(page: str) -> list[str]:
    parser = AssetLinks()
    parser.feed(page)
    return parser.urls


def fetch(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers["Content-Type"], response.read()


EXPECTED_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


@pytest.fixture(scope="module", params=["true", "false"], ids=["debug", "no-debug"])
def app_url(request, tmp_path_factory) -> Iterator[str]:
    """The app as `make run` starts it (collectstatic, then `manage.py serve`), with and without DEBUG.

    Without DEBUG whitenoise serves only what collectstatic gathered; with it, also straight from the apps.
    """
    port = free_port()
    env = process_env(
        DATABASE_URL=f"sqlite:///{tmp_path_factory.mktemp('docs') / 'docs.sqlite3'}",
        APP_HOST="127.0.0.1",
        APP_PORT=str(port),
        DJANGO_DEBUG=request.param,
        LOG_LEVEL="WARNING",
    )
    for step in (["migrate", "--noinput"], ["collectstatic", "--noinput", "--verbosity", "0"]):
        result = manage(*step, env=env)
        assert result.returncode == 0, result.stderr
    with running([sys.executable, "manage.py", "serve", "--no-worker"], env=env):
        base = f"http://127.0.0.1:{port}"
        http_get(f"{base}/health")
        yield base


@pytest.mark.parametrize("page", ["/api/docs/", "/api/redoc/"])
def test_the_docs_page_loads_every_asset_from_the_app(app_url, page):
    html = http_get(app_url + page)
    urls = asset_urls(html)

    assert urls, f"{page} references no scripts or stylesheets"
    for url in urls:
        assert not urlsplit(url).netloc, f"{page} loads {url} from another site"
        status, content_type, body = fetch(urljoin(app_url + page, url))
        expected = next(kind for suffix, kind in EXPECTED_TYPES.items() if url.endswith(suffix))
        assert status == 200, url
        assert expected in content_type, f"{url}: {content_type}"
        assert len(body) > 500, url


@pytest.mark.parametrize("page", ["/api/docs/", "/api/redoc/"])
def test_the_docs_page_references_no_other_site(app_url, page):
    html = http_get(app_url + page)

    assert ABSOLUTE_URL.findall(html) == []
