"""Platform admin pages: audit trails are read-only, django-q2 tasks and schedules are visible."""

import pytest

from integrations.services import integration_log_write

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "/admin/integrations/integrationlog/",
        "/admin/mastermobile/idempotencyrecord/",
        "/admin/django_q/schedule/",
        "/admin/django_q/success/",
        "/admin/django_q/failure/",
    ],
)
def test_a_superuser_sees_the_platform_changelists(admin_client, url):
    assert admin_client.get(url).status_code == 200


def test_integration_log_rows_show_but_cannot_be_added_or_changed(admin_client):
    row = integration_log_write(
        direction="outbound",
        external_system="b24",
        endpoint="https://p.example/rest/1/secret-token/x.json",
        status="success",
        status_code=200,
        correlation_id="run-1",
    )

    listing = admin_client.get("/admin/integrations/integrationlog/?q=run-1")
    add = admin_client.get("/admin/integrations/integrationlog/add/")
    change = admin_client.post(f"/admin/integrations/integrationlog/{row.pk}/change/", {"status": "error"})

    assert "run-1" in listing.content.decode()
    assert "secret-token" not in listing.content.decode()
    assert add.status_code == 403
    assert change.status_code == 403
    row.refresh_from_db()
    assert row.status == "success"


def test_the_idempotency_expiry_schedule_exists_after_migrate():
    from django_q.models import Schedule

    schedule = Schedule.objects.get(name="idempotency.prune_expired")

    assert schedule.minutes == 60
