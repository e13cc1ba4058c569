"""``manage.py b24_ping`` (B24-14)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import translation

from tests.fakes.bitrix24 import FakeBitrix24

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_b24(request):
    """Ten calls a day, so yesterday always has recordings (or ``calls`` over 60 days, parametrized)."""
    with FakeBitrix24(calls=getattr(request, "param", 600), rate=0) as fake:
        yield fake


def ping() -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("b24_ping", stdout=out, stderr=err)
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def test_ping_reports_yesterdays_calls_and_a_recording_example(b24_config, fake_b24):
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date()
    expected = [
        item
        for item in fake_b24.items
        if datetime.fromisoformat(item["CALL_START_DATE"]).astimezone(UTC).date() == yesterday
    ]

    code, out, err = ping()

    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"Bitrix24 Voximplant statistics for {yesterday}T00:00:00Z – {yesterday}T23:59:59Z"
    assert lines[1] == f"calls_total: {len(expected)}"
    assert lines[2] == f"calls_with_recording: {sum(1 for i in expected if i['CALL_RECORD_URL'])}"
    assert lines[3].startswith(f"recording_url (example): {fake_b24.base_url}/disk/downloadFile/")
    assert lines[3].endswith("&auth=***")
    assert fake_b24.access_key not in out
    query = fake_b24.requests[0].query
    assert query["FILTER[>=CALL_START_DATE]"] == f"{yesterday}T00:00:00+00:00"


@pytest.mark.parametrize("fake_b24", [12_000], indirect=True)  # 200 calls a day: four pages
def test_ping_takes_the_total_from_the_portal_and_says_recordings_are_counted_on_one_page(b24_config, fake_b24):
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date()
    expected = [
        item
        for item in fake_b24.items
        if datetime.fromisoformat(item["CALL_START_DATE"]).astimezone(UTC).date() == yesterday
    ]
    first_page = expected[:50]

    with translation.override("en"):  # as manage.py runs commands
        code, out, err = ping()

    assert code == 0, err
    assert len(expected) > 50
    lines = out.splitlines()
    assert lines[1] == f"calls_total: {len(expected)}"
    recorded = sum(1 for item in first_page if item["CALL_RECORD_URL"])
    assert lines[2] == (
        f"calls_with_recording: {recorded} (of the first 50 calls: the ping reads one page of {len(expected)} calls)"
    )


def test_ping_without_recordings_says_how_to_enable_them(b24_config, fake_b24):
    for item in fake_b24.items:
        item["CALL_RECORD_URL"] = ""

    code, out, _ = ping()

    assert code == 0
    assert out.splitlines()[3] == (
        "recording_url (example): not available — enable call recording in Bitrix24 or check webhook permissions."
    )


@pytest.mark.parametrize(
    ("kind", "hint"),
    [
        ("401", "verify B24_WEBHOOK_USER_ID and B24_WEBHOOK_TOKEN"),
        ("403", "check webhook permissions or IP restrictions"),
        ("429", "rate limit reached, retry later"),
        ("500", "Request failed with status 500."),
    ],
)
def test_ping_failures_exit_1_with_a_hint_and_the_body(b24_config, fake_b24, kind, hint):
    fake_b24.fail_next(kind, times=5)

    code, out, err = ping()

    assert code == 1
    assert out == ""
    assert err.splitlines()[0] == hint
    assert len(err.splitlines()) >= 2  # the response body follows the hint


def test_ping_treats_an_error_payload_with_200_as_a_failure(b24_config, fake_b24):
    fake_b24.fail_next("error_200")

    code, _, err = ping()

    assert code == 1
    assert "ACCESS_DENIED" in err


def test_ping_masks_the_token_in_the_body(b24_config, fake_b24, settings):
    settings.APP_CONFIG = dataclasses.replace(b24_config, b24_webhook_token="wrong-secret-token")

    code, _, err = ping()

    assert code == 1
    assert "wrong-secret-token" not in err
    assert err.startswith("verify B24_WEBHOOK_USER_ID and B24_WEBHOOK_TOKEN")


@pytest.mark.parametrize(
    ("attribute", "name"),
    [
        ("b24_webhook_token", "B24_WEBHOOK_TOKEN"),
        ("b24_webhook_user_id", "B24_WEBHOOK_USER_ID"),
        ("b24_base_url", "B24_BASE_URL"),
    ],
)
def test_ping_names_a_missing_variable(b24_config, settings, attribute, name):
    settings.APP_CONFIG = dataclasses.replace(b24_config, **{attribute: ""})

    code, _, err = ping()

    assert code == 1
    assert err.strip() == f"Missing required environment variable: {name}"


def test_the_fake_portal_writes_its_variables_into_an_env_file(tmp_path):
    from tests.fakes.http import write_env

    env_file = tmp_path / ".env"
    env_file.write_text("LOG_LEVEL=DEBUG\nB24_BASE_URL=https://old.example/rest\n")

    write_env(env_file, {"B24_BASE_URL": "http://127.0.0.1:8765/rest", "B24_WEBHOOK_TOKEN": "t"})
    write_env(env_file, {"B24_BASE_URL": "http://127.0.0.1:8766/rest", "B24_WEBHOOK_TOKEN": "t"})

    assert env_file.read_text().splitlines() == [
        "LOG_LEVEL=DEBUG",
        "B24_BASE_URL=http://127.0.0.1:8766/rest",
        "B24_WEBHOOK_TOKEN=t",
    ]
