"""Employee ids and error codes come from outside: on the overview they are text, never markup."""

from __future__ import annotations

import pytest

from tests.calls.overview import OVERVIEW_URL, make_call, moscow

pytestmark = pytest.mark.django_db

PERIOD = {"date_from": "2026-10-01", "date_to": "2026-10-01"}


def test_an_employee_named_like_a_script_tag_shows_as_text(admin_client):
    make_call(moscow(1, 10), employee_id="<script>alert(1)</script>")

    html = admin_client.get(OVERVIEW_URL, PERIOD).content.decode()

    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "employee_id__exact=%3Cscript%3Ealert%281%29%3C%2Fscript%3E" in html


def test_an_unknown_error_code_with_markup_shows_as_text(admin_client):
    make_call(moscow(1, 10), status="error", error_code='<img src=x onerror="alert(1)">')

    html = admin_client.get(OVERVIEW_URL, PERIOD).content.decode()

    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
