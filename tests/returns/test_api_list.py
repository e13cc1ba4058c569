from datetime import timedelta

import pytest
from django.utils import timezone

from returns.models import Return
from tests.returns.conftest import URL

pytestmark = pytest.mark.django_db


@pytest.fixture
def many_returns(make_return):
    created = [make_return(comment=f"r{index}") for index in range(45)]
    # Spread creation times so ordering is deterministic.
    now = timezone.now()
    for offset, item in enumerate(created):
        Return.objects.filter(pk=item.pk).update(created_at=now - timedelta(minutes=offset))
    return created


def test_the_default_page_has_20_items_newest_first(onec_api, many_returns):
    body = onec_api.get(URL).json()

    assert len(body["items"]) == 20
    assert [item["comment"] for item in body["items"][:3]] == ["r0", "r1", "r2"]
    assert (body["page"], body["page_size"], body["total_items"], body["total_pages"], body["has_next"]) == (
        1,
        20,
        45,
        3,
        True,
    )


def test_the_last_page_has_no_next(onec_api, many_returns):
    body = onec_api.get(URL, {"page": 3}).json()

    assert len(body["items"]) == 5
    assert body["has_next"] is False


def test_page_size_100_is_allowed(onec_api, many_returns):
    body = onec_api.get(URL, {"page_size": 100}).json()

    assert len(body["items"]) == 45
    assert (body["total_pages"], body["has_next"]) == (1, False)


def test_a_page_beyond_the_end_is_empty(onec_api, many_returns):
    response = onec_api.get(URL, {"page": 999})

    assert response.status_code == 200
    assert response.json()["items"] == []
    assert response.json()["total_items"] == 45


def test_an_empty_list_has_zero_pages(onec_api):
    body = onec_api.get(URL).json()

    assert (body["items"], body["total_items"], body["total_pages"], body["has_next"]) == ([], 0, 0, False)


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"page_size": 101}, "page_size"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": "ten"}, "page_size"),
        ({"page": 0}, "page"),
        ({"page": "1.5"}, "page"),
        ({"status": "lost"}, "status"),
        ({"source": "email"}, "source"),
        ({"created_from": "yesterday"}, "created_from"),
        ({"created_to": "2024-05-01T10:00:00"}, "created_to"),
        ({"ordering": "sku"}, "ordering"),
    ],
)
def test_a_bad_query_parameter_is_400_naming_it(onec_api, params, name):
    response = onec_api.get(URL, params)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert f"'{name}'" in response.json()["detail"]
    assert response.json()["errors"][0]["field"] == name


@pytest.mark.parametrize("name", ["created_from", "created_to"])
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1964-07-16T12:21:46-18:10", "offset"),
        ("2024-05-01T10:00:00+14:30", "offset"),
        ("0001-01-01T00:00:00+01:00", "out of range"),
        ("9999-12-31T23:59:59-01:00", "out of range"),
        ("2024-05-01T10:00:00\x00Z", "RFC 3339"),
    ],
)
def test_a_date_filter_the_database_cannot_use_is_400_naming_it(onec_api, name, value, message):
    response = onec_api.get(URL, {name: value})

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == name
    assert message in response.json()["detail"]


def test_date_filters_at_the_offset_limits_are_used(onec_api, make_return):
    make_return()

    response = onec_api.get(
        URL, {"created_from": "2000-01-01T00:00:00+14:00", "created_to": "2100-01-01T00:00:00-14:00"}
    )

    assert response.status_code == 200
    assert response.json()["total_items"] == 1


def test_it_filters_by_status_source_and_courier(onec_api, make_return):
    wanted = make_return(source="widget", courier_id="courier-007")
    make_return(source="widget", courier_id="courier-008")
    make_return(source="call_center", courier_id="courier-007")
    make_return(source="widget", courier_id="courier-007", status="accepted")

    body = onec_api.get(URL, {"status": "pending", "source": "widget", "courier_id": "courier-007"}).json()

    assert [item["id"] for item in body["items"]] == [str(wanted.return_id)]


def test_it_filters_by_creation_time_with_offsets(onec_api, make_return):
    early, middle, late = make_return(), make_return(), make_return()
    base = timezone.now().replace(microsecond=0)
    for item, hours in ((early, 10), (middle, 5), (late, 1)):
        Return.objects.filter(pk=item.pk).update(created_at=base - timedelta(hours=hours))
    created_from = (base - timedelta(hours=6)).astimezone(timezone.get_fixed_timezone(180)).isoformat()
    created_to = (base - timedelta(hours=2)).isoformat().replace("+00:00", "Z")

    body = onec_api.get(URL, {"created_from": created_from, "created_to": created_to}).json()

    assert [item["id"] for item in body["items"]] == [str(middle.return_id)]


def test_an_unencoded_plus_in_the_offset_is_understood(onec_api, make_return):
    make_return()

    response = onec_api.get(URL + "?created_from=2000-01-01T00:00:00+03:00")

    assert response.status_code == 200
    assert response.json()["total_items"] == 1


@pytest.mark.parametrize(("ordering", "expected"), [("created_at", ["b", "a"]), ("-created_at", ["a", "b"])])
def test_it_orders_by_creation_time(onec_api, make_return, ordering, expected):
    newer, older = make_return(comment="a"), make_return(comment="b")
    Return.objects.filter(pk=older.pk).update(created_at=timezone.now() - timedelta(days=1))
    Return.objects.filter(pk=newer.pk).update(created_at=timezone.now())

    body = onec_api.get(URL, {"ordering": ordering}).json()

    assert [item["comment"] for item in body["items"]] == expected


def test_it_orders_by_update_time(onec_api, make_return):
    first = make_return(comment="first")
    make_return(comment="second")
    Return.objects.filter(pk=first.pk).update(updated_at=timezone.now() + timedelta(minutes=1))

    body = onec_api.get(URL, {"ordering": "-updated_at"}).json()

    assert [item["comment"] for item in body["items"]] == ["first", "second"]


def test_the_list_runs_a_fixed_number_of_queries(onec_api, make_return, django_assert_num_queries, throttle_queries):
    for _ in range(30):
        make_return()
    onec_api.get(URL)  # the caller's throttle bucket exists, as after its first request

    # count + page + lines of the page, however many returns and lines
    with django_assert_num_queries(3 + throttle_queries):
        response = onec_api.get(URL, {"page_size": 30})

    assert len(response.json()["items"]) == 30
    assert all(len(item["items"]) == 2 for item in response.json()["items"])


def test_a_listed_return_has_the_same_body_as_its_detail(onec_api, make_return):
    make_return(comment="first")
    make_return(comment="second", items=[{"sku": "SKU-9", "qty": 9, "quality": "unknown", "reason_code": "bulk"}])

    listed = onec_api.get(URL).json()["items"]

    assert [onec_api.get(f"{URL}/{item['id']}").json() for item in listed] == listed
