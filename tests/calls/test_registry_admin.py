"""The registry from the calls overview («Скачать реестр (CSV)») and the audit list of downloads."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from calls.models import RegistryDownload
from calls.registry import BOM
from tests.calls.registry import make_golden_records

pytestmark = pytest.mark.django_db
URL = "/admin/calls/callrecord/registry/"
OCTOBER = {"date_from": "2026-10-01", "date_to": "2026-10-31"}


def staff(*codenames: str) -> Client:
    user = User.objects.create_user("operator", password="x", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="calls", codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def test_staff_with_the_export_permission_download_the_periods_registry(settings):
    settings.APP_CONFIG = settings.APP_CONFIG.__class__(**{**vars(settings.APP_CONFIG), "pii_masking_enabled": True})
    make_golden_records()

    response = staff("view_callrecord", "export_callrecord").get(URL, OCTOBER)

    content = b"".join(response.streaming_content)  # type: ignore[attr-defined]  # the registry streams
    assert response["Content-Disposition"] == 'attachment; filename="calls_2026-10-01_2026-10-31.csv"'
    assert content.startswith(BOM) and content.count(b"\r\n") == 4
    assert b"+79161234567" not in content
    download = RegistryDownload.objects.get()
    assert download.user is not None
    assert download.channel == "admin" and download.user.username == "operator" and download.row_count == 3


def test_without_the_export_permission_the_download_is_refused_and_the_button_hidden():
    client = staff("view_callrecord")

    assert client.get(URL, OCTOBER).status_code == 403
    assert "calls/callrecord/registry/" not in client.get("/admin/calls/callrecord/overview/").content.decode()
    assert RegistryDownload.objects.count() == 0


def test_the_overview_offers_the_download_to_staff_who_may():
    page = staff("view_callrecord", "export_callrecord").get("/admin/calls/callrecord/overview/").content.decode()

    assert 'formaction="/admin/calls/callrecord/registry/"' in page and "Скачать реестр (CSV)" in page


def test_an_inverted_period_shows_the_overview_with_the_error_and_downloads_nothing():
    response = staff("view_callrecord", "export_callrecord").get(
        URL, {"date_from": "2026-10-31", "date_to": "2026-10-01"}
    )

    assert response.status_code == 200 and "Период заканчивается раньше" in response.content.decode()
    assert RegistryDownload.objects.count() == 0


def test_the_downloads_list_shows_who_downloaded_what(admin_client):
    make_golden_records()
    b"".join(admin_client.get(URL, OCTOBER).streaming_content)

    page = admin_client.get("/admin/calls/registrydownload/").content.decode()

    assert "session:admin" in page and "period_from=2026-10-01T00:00:00+03:00" in page
    assert admin_client.get("/admin/calls/registrydownload/add/").status_code == 403
