"""1C's polling of the returns list: ``updated_since`` and a repeatable ``status`` (C1-02)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from mastermobile.api.datetimes import format_rfc3339
from returns.models import Return
from tests.returns.conftest import URL

pytestmark = pytest.mark.django_db


def _touch(item: Return, moment) -> None:
    Return.objects.filter(pk=item.pk).update(updated_at=moment)


def _ids(response) -> list[str]:
    return [item["id"] for item in response.json()["items"]]


@pytest.fixture
def base():
    return timezone.now().replace(microsecond=0) - timedelta(hours=1)


def test_updated_since_includes_a_return_updated_exactly_at_the_instant(onec_api, make_return, base):
    before, at, after = make_return(), make_return(), make_return()
    _touch(before, base - timedelta(microseconds=1))
    _touch(at, base)
    _touch(after, base + timedelta(seconds=1))

    response = onec_api.get(URL, {"updated_since": format_rfc3339(base)})

    assert response.status_code == 200
    assert _ids(response) == [str(at.return_id), str(after.return_id)]


def test_updated_since_reads_an_offset(onec_api, make_return, base):
    wanted, old = make_return(), make_return()
    _touch(wanted, base)
    _touch(old, base - timedelta(minutes=1))
    moscow = base.astimezone(timezone.get_fixed_timezone(180)).isoformat()

    response = onec_api.get(URL + "?updated_since=" + moscow)  # the + of +03:00 left unencoded

    assert _ids(response) == [str(wanted.return_id)]


def test_updated_since_combines_with_status(onec_api, make_return, base):
    wanted = make_return()
    accepted = make_return(status="accepted")
    stale = make_return()
    _touch(wanted, base)
    _touch(accepted, base)
    _touch(stale, base - timedelta(days=1))

    response = onec_api.get(URL, {"updated_since": format_rfc3339(base), "status": "pending"})

    assert _ids(response) == [str(wanted.return_id)]


def test_status_may_repeat_and_matches_any_of_them(onec_api, make_return):
    pending = make_return()
    accepted = make_return(status="accepted")
    make_return(status="rejected")
    make_return(status="cancelled")

    response = onec_api.get(URL + "?status=pending&status=accepted")

    assert sorted(_ids(response)) == sorted([str(pending.return_id), str(accepted.return_id)])


def test_a_single_status_still_filters_as_before(onec_api, make_return):
    make_return()
    rejected = make_return(status="rejected")

    response = onec_api.get(URL, {"status": "rejected"})

    assert _ids(response) == [str(rejected.return_id)]


def test_an_empty_status_is_no_filter(onec_api, make_return):
    make_return()
    make_return(status="accepted")

    response = onec_api.get(URL + "?status=")

    assert response.status_code == 200
    assert response.json()["total_items"] == 2


def test_an_empty_status_beside_a_real_one_is_ignored(onec_api, make_return):
    pending = make_return()
    make_return(status="accepted")

    response = onec_api.get(URL + "?status=&status=pending")

    assert _ids(response) == [str(pending.return_id)]


def test_one_bad_status_among_several_is_400_naming_status(onec_api):
    response = onec_api.get(URL + "?status=pending&status=lost")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "status"


@pytest.mark.parametrize(
    "value", ["yesterday", "2024-05-01T10:00:00", "2024-05-01T10:00:00+14:30", "0001-01-01T00:00:00+01:00"]
)
def test_an_unusable_updated_since_is_400_naming_it(onec_api, value):
    response = onec_api.get(URL, {"updated_since": value})

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert "'updated_since'" in response.json()["detail"]
    assert response.json()["errors"][0]["field"] == "updated_since"


def test_updated_since_orders_by_update_time_then_id_oldest_first(onec_api, make_return, base):
    late, early, tied_a, tied_b = make_return(), make_return(), make_return(), make_return()
    _touch(late, base + timedelta(minutes=2))
    _touch(early, base)
    _touch(tied_a, base + timedelta(minutes=1))
    _touch(tied_b, base + timedelta(minutes=1))
    tied = sorted([str(tied_a.return_id), str(tied_b.return_id)])

    response = onec_api.get(URL, {"updated_since": format_rfc3339(base)})

    assert _ids(response) == [str(early.return_id), *tied, str(late.return_id)]


def test_an_explicit_ordering_wins_over_the_polling_order(onec_api, make_return, base):
    older, newer = make_return(), make_return()
    _touch(older, base)
    _touch(newer, base + timedelta(minutes=1))

    response = onec_api.get(URL, {"updated_since": format_rfc3339(base), "ordering": "-updated_at"})

    assert _ids(response) == [str(newer.return_id), str(older.return_id)]


def test_polling_pages_through_every_row_once(onec_api, make_return, base):
    created = [make_return() for _ in range(7)]
    for item in created:
        _touch(item, base)  # all at one instant: only the id keeps pages apart

    pages = [
        _ids(onec_api.get(URL, {"updated_since": format_rfc3339(base), "page_size": 3, "page": page}))
        for page in (1, 2, 3)
    ]

    seen = [return_id for page in pages for return_id in page]
    assert seen == sorted(str(item.return_id) for item in created)


def test_polling_again_from_the_largest_updated_at_seen_returns_that_row_and_newer_ones(onec_api, make_return, base):
    first, second = make_return(), make_return()
    _touch(first, base)
    _touch(second, base + timedelta(minutes=1))
    seen = onec_api.get(URL, {"updated_since": format_rfc3339(base)}).json()["items"]
    third = make_return()
    _touch(third, base + timedelta(minutes=2))

    again = onec_api.get(URL, {"updated_since": max(item["updated_at"] for item in seen)})

    assert _ids(again) == [str(second.return_id), str(third.return_id)]
