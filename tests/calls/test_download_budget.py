"""Recording downloads have their own rate limit and concurrency; REST methods keep theirs (B24_DOWNLOAD_*)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from calls import downloads, services
from calls.models import CallRecord
from integrations.bitrix24 import RequestContext, client_from_config
from integrations.models import TokenBucket

pytestmark = pytest.mark.django_db

CONTEXT = RequestContext(stage="download", event="call_export.recording")


@pytest.fixture
def listed(b24_config, fake_b24):
    run, _ = services.call_export_start(period_from=datetime(2000, 1, 1, tzinfo=UTC), period_to=datetime.now(UTC))
    services.call_export_list(run=run)
    return run


def throttled_client(config, sleeps: list[float]):
    return client_from_config(config, sleep=sleeps.append)


def test_downloads_wait_on_their_own_bucket_not_on_the_rest_methods_one(b24_config, fake_b24, settings):
    config = dataclasses.replace(b24_config, b24_rate_limit_rps=0.5, b24_download_rate_rps=50)
    sleeps: list[float] = []
    client = throttled_client(config, sleeps)
    urls = [item["CALL_RECORD_URL"] for item in fake_b24.items if item["CALL_RECORD_URL"]][:5]

    for url in urls:
        with client.open_recording(url, context=CONTEXT) as response:
            assert response.status_code == 200

    # The sleeps are recorded, not slept, so the reserved slots add up: 0.02 s apart at 50/s,
    # where the REST budget of 0.5/s would have made the fifth download wait 8 s.
    assert sleeps and max(sleeps) < 0.2
    host = fake_b24.base_url.removeprefix("http://")
    assert TokenBucket.objects.filter(value=f"b24-download:{host}").exists()
    assert not TokenBucket.objects.filter(value=f"b24:{host}").exists()


def test_rest_methods_do_not_use_the_download_budget(b24_config, fake_b24):
    config = dataclasses.replace(b24_config, b24_rate_limit_rps=50, b24_download_rate_rps=0.5)
    sleeps: list[float] = []
    client = throttled_client(config, sleeps)

    for _ in range(3):
        client.fetch_page(client.list_params(datetime(2000, 1, 1, tzinfo=UTC), datetime.now(UTC)), 0)

    assert sleeps and max(sleeps) < 0.2  # 2 s and 4 s at the download budget of 0.5/s
    host = fake_b24.base_url.removeprefix("http://")
    assert not TokenBucket.objects.filter(value=f"b24-download:{host}").exists()


def test_the_download_budget_is_shared_by_every_client_of_the_portal(b24_config, fake_b24):
    """Two clients stand for two worker processes: the bucket is a database row, so the second one waits."""
    config = dataclasses.replace(b24_config, b24_download_rate_rps=2)
    first_sleeps: list[float] = []
    second_sleeps: list[float] = []
    first, second = throttled_client(config, first_sleeps), throttled_client(config, second_sleeps)
    url = next(item["CALL_RECORD_URL"] for item in fake_b24.items if item["CALL_RECORD_URL"])

    with first.open_recording(url, context=CONTEXT):
        pass
    with second.open_recording(url, context=CONTEXT):
        pass

    assert first_sleeps == []
    assert len(second_sleeps) == 1 and 0.3 < second_sleeps[0] <= 0.5


def test_b24_download_concurrency_caps_the_downloads_of_a_run(listed, fake_b24, settings):
    settings.APP_CONFIG = dataclasses.replace(settings.APP_CONFIG, b24_download_concurrency=2)
    ids = list(listed.records.filter(status="pending").order_by("id").values_list("id", flat=True))
    CallRecord.objects.filter(pk__in=ids[:2]).update(status="downloading")
    before = fake_b24.count()

    outcome = downloads.record_download(record_id=ids[2])

    assert (outcome.status, outcome.queue_next) == ("pending", False)
    assert fake_b24.count() == before
    assert downloads.download_slots_free(listed) == 0
    settings.APP_CONFIG = dataclasses.replace(settings.APP_CONFIG, b24_download_concurrency=3)
    assert downloads.download_slots_free(listed) == 1
    assert downloads.record_download(record_id=ids[2]).status == "skipped"  # stored; STT is off in tests
