"""Who sees the calls overview: staff who may view call records; the link shows where they look for calls."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from tests.calls.overview import OVERVIEW_URL

pytestmark = pytest.mark.django_db


def staff(*codenames: str) -> Client:
    user = get_user_model().objects.create_user("analyst", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="calls", codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def test_an_anonymous_visitor_is_sent_to_the_login_page(client):
    response = client.get(OVERVIEW_URL)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=/admin/calls/callrecord/overview/")


def test_staff_without_the_view_permission_on_call_records_get_403(settings):
    response = staff("view_callexport").get(OVERVIEW_URL)

    assert response.status_code == 403


def test_staff_who_may_view_call_records_see_the_page_titled_in_russian():
    response = staff("view_callrecord").get(OVERVIEW_URL)

    html = response.content.decode()
    assert response.status_code == 200
    assert "<title>Обзор звонков | MasterMobile</title>" in html
    assert "Звонки и расшифровки</a> &rsaquo;" in html


def test_the_calls_app_lists_the_overview_for_those_who_may_open_it():
    allowed = staff("view_callrecord").get("/admin/").content.decode()
    get_user_model().objects.all().delete()
    refused = staff("view_callexport").get("/admin/calls/").content.decode()

    assert f'<a href="{OVERVIEW_URL}">Обзор звонков</a>' in allowed
    assert "Обзор звонков" not in refused


@pytest.mark.parametrize("changelist", ["/admin/calls/callrecord/", "/admin/calls/callexport/"])
def test_the_records_and_runs_lists_link_to_the_overview(admin_client, changelist):
    html = admin_client.get(changelist).content.decode()

    assert f'<a href="{OVERVIEW_URL}">Обзор звонков</a>' in html
