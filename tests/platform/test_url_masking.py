"""One masking rule for URLs (``masked_url``): webhook tokens, user passwords and credential query values."""

from __future__ import annotations

import pytest

from mastermobile.observability.logging import Redactor, masked_url

KEY = "0f3c9a1b2d4e5f60718293a4b5c6d7e8"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # voximplant.statistic.get CALL_RECORD_URL as a cloud portal gives it
        (
            f"https://acme.bitrix24.ru/disk/downloadFile/123456/?&ncc=1&filename=call_20261101.mp3&auth={KEY}",
            "https://acme.bitrix24.ru/disk/downloadFile/123456/?&ncc=1&filename=call_20261101.mp3&auth=***",
        ),
        # disk.file.get DOWNLOAD_URL
        (
            f"https://acme.bitrix24.ru/rest/download.json?auth={KEY}&token=disk%7CaWQ9MTIzNDU2",
            "https://acme.bitrix24.ru/rest/download.json?auth=***&token=***",
        ),
        # an inbound-webhook method URL
        (
            f"https://acme.bitrix24.ru/rest/1/{KEY}/voximplant.statistic.get.json?start=50",
            "https://acme.bitrix24.ru/rest/1/***/voximplant.statistic.get.json?start=50",
        ),
        # an OAuth application's call
        (
            f"https://acme.bitrix24.ru/rest/disk.file.get.json?id=5&access_token={KEY}&refresh_token=r{KEY}",
            "https://acme.bitrix24.ru/rest/disk.file.get.json?id=5&access_token=***&refresh_token=***",
        ),
        ("http://user:p%40ss@proxy.local:3128", "http://user:***@proxy.local:3128"),
        ("https://acme.bitrix24.ru/disk/downloadFile/1/?ncc=1&filename=a.mp3", None),
        ("https://acme.bitrix24.ru/x?auth=&a=1", None),
    ],
)
def test_it_masks_every_credential_a_real_portal_url_carries(url, expected):
    assert masked_url(url) == (expected or url)


def test_it_masks_urls_inside_messages_and_html():
    message = (
        f"Bitrix24 404 (http://127.0.0.1:8765/disk/downloadFile/500001/?ncc=1&filename=a.wav&auth={KEY}); "
        f'<a href="https://acme.bitrix24.ru/disk/downloadFile/2/?ncc=1&amp;auth={KEY}">'
    )

    masked = masked_url(message)

    assert KEY not in masked
    assert "filename=a.wav&auth=***);" in masked
    assert "&amp;auth=***" in masked


def test_the_log_redactor_uses_the_same_rule():
    text = Redactor().text(f"GET https://acme.bitrix24.ru/disk/downloadFile/7/?ncc=1&auth={KEY} failed")

    assert text == "GET https://acme.bitrix24.ru/disk/downloadFile/7/?ncc=1&auth=*** failed"
