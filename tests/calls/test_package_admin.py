"""The run page's export package: download links, the authenticated downloads and "Rebuild the report" (EXP-07)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse

from calls import services
from calls.models import CallExport, CallRecord, QaReview
from calls.registry import REGISTRY_COLUMNS
from calls.reports import qa_sample

pytestmark = pytest.mark.django_db


@pytest.fixture
def exported(stt_config) -> CallExport:
    run, _ = services.call_export_start(period_from=datetime(2000, 1, 1, tzinfo=UTC), period_to=datetime.now(UTC))
    return services.call_export_process(run=run)


def staff(*codenames: str):
    user = get_user_model().objects.create_user("staff", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


def download(client, run: CallExport, kind: str):
    return client.get(reverse("admin:calls_callexport_package", args=[run.pk, kind]))


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_staff_allowed_to_export_download_the_registry_report_and_log_after_a_run(client, exported):
    client.force_login(staff("view_callexport", "export_callrecord"))

    page = client.get(reverse("admin:calls_callexport_change", args=[exported.pk]))
    report = download(client, exported, "report")
    registry = download(client, exported, "registry")
    log = download(client, exported, "log")

    for kind in ("report", "registry", "log"):
        assert reverse("admin:calls_callexport_package", args=[exported.pk, kind]) in page.content.decode()
    assert report.status_code == 200
    assert report["Content-Disposition"].startswith("attachment;")
    assert f"run_id: `{exported.run_id}`" in body(report).decode("utf-8")
    assert body(registry).decode("utf-8-sig").split("\r\n")[0] == ";".join(REGISTRY_COLUMNS)
    assert str(exported.run_id) in body(log).decode("utf-8").splitlines()[0]


def test_staff_without_the_export_permission_cannot_download(client, exported):
    client.force_login(staff("view_callexport"))

    assert download(client, exported, "report").status_code == 403


def test_an_unknown_file_kind_is_not_found(client, exported):
    client.force_login(staff("view_callexport", "export_callrecord"))

    assert download(client, exported, "secrets").status_code == 404


def test_the_run_page_is_in_russian(client, exported):
    client.force_login(staff("view_callexport", "export_callrecord"))

    page = client.get(reverse("admin:calls_callexport_change", args=[exported.pk]), HTTP_ACCEPT_LANGUAGE="ru")

    text = page.content.decode()
    assert "Пакет выгрузки" in text and "отчёт" in text


def test_rebuilding_the_report_picks_up_verdicts_entered_since(client, exported):
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))
    sampled = qa_sample(exported)[0].call_id
    record = CallRecord.objects.get(run=exported, call_id=sampled)
    QaReview.objects.create(call_record=record, verdict="issue", comment="не тот язык")

    response = client.post(
        reverse("admin:calls_callexport_changelist"),
        {"action": "rebuild_reports", "_selected_action": [str(exported.pk)]},
        follow=True,
    )

    assert "1 отчёт пересобран." in response.content.decode()
    text = body(download(client, exported, "report")).decode("utf-8")
    (row,) = [line for line in text.splitlines() if line.startswith(f"| {sampled} ")]
    assert row.endswith("| issue | не тот язык |")
    exported.refresh_from_db()
    assert exported.package_built_at is not None
