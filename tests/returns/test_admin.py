import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from returns.models import Courier, Return

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:returns_return_changelist")


@pytest.fixture
def courier():
    return Courier.objects.create(courier_id="courier-001", display_name="Иван Петров", phone="+79990001122")


def test_the_changelist_shows_courier_name_line_count_and_total_qty(admin_client, make_return, courier):
    target = make_return()

    response = admin_client.get(CHANGELIST)

    assert response.status_code == 200
    row = response.context["cl"].result_list[0]
    assert (row.line_count, row.total_qty, row.courier_name) == (2, 3, "Иван Петров")
    content = response.content.decode()
    assert target.short_id in content
    assert "Иван Петров (courier-001)" in content


def test_the_changelist_runs_a_bounded_number_of_queries(admin_client, make_return, django_assert_max_num_queries):
    for _ in range(20):
        make_return()

    with django_assert_max_num_queries(12):
        response = admin_client.get(CHANGELIST)

    assert len(response.context["cl"].result_list) == 20


def test_the_unknown_courier_filter(admin_client, make_return, courier):
    make_return(courier_id="courier-001")
    stranger = make_return(courier_id="courier-404")

    response = admin_client.get(CHANGELIST, {"courier_known": "no"})

    assert [row.return_id for row in response.context["cl"].result_list] == [stranger.return_id]
    assert "courier-404 (неизвестен)" in response.content.decode()


def _age(item: Return, age: timedelta) -> Return:
    Return.objects.filter(pk=item.pk).update(created_at=timezone.now() - age)
    return item


def test_the_overdue_filter_lists_returns_pending_for_more_than_a_day(admin_client, make_return):
    overdue = _age(make_return(), timedelta(days=2))
    _age(make_return(), timedelta(hours=23))
    _age(make_return(status="accepted"), timedelta(days=5))

    response = admin_client.get(CHANGELIST, {"overdue": "yes"})

    assert [row.return_id for row in response.context["cl"].result_list] == [overdue.return_id]


def test_the_overdue_filter_is_in_russian_with_its_count(admin_client, make_return):
    _age(make_return(), timedelta(days=2))
    _age(make_return(), timedelta(days=3))
    make_return()

    content = admin_client.get(CHANGELIST).content.decode()

    assert "срок ожидания" in content
    assert "Ожидают больше суток (2)" in content


def test_the_overdue_count_is_shown_once_when_django_shows_counts(admin_client, make_return):
    _age(make_return(), timedelta(days=2))

    content = admin_client.get(CHANGELIST, {"_facets": "True"}).content.decode()

    assert "Ожидают больше суток (1)</a>" in content
    assert "(1) (1)" not in content


def test_the_changelist_marks_overdue_returns_in_red(admin_client, make_return):
    _age(make_return(), timedelta(days=2, hours=1))
    make_return()

    response = admin_client.get(CHANGELIST)

    content = response.content.decode()
    assert "Просрочен" in content
    assert content.count('<span class="mm-badge mm-badge-error">Ждёт 2 дня</span>') == 1
    assert [row.is_overdue for row in response.context["cl"].result_list] == [False, True]


def test_a_pending_return_of_exactly_a_day_minus_a_minute_is_not_overdue(admin_client, make_return):
    _age(make_return(), timedelta(days=1) - timedelta(minutes=1))

    response = admin_client.get(CHANGELIST, {"overdue": "yes"})

    assert list(response.context["cl"].result_list) == []
    assert "Ожидают больше суток (0)" in response.content.decode()


@pytest.mark.parametrize(
    ("term", "field", "value"),
    [
        ("ORD-SEARCH", "order_id_1c", "ORD-SEARCH"),
        ("courier-search", "courier_id", "courier-search"),
    ],
)
def test_search_by_header_fields(admin_client, make_return, term, field, value):
    wanted = make_return(**{field: value})
    make_return()

    response = admin_client.get(CHANGELIST, {"q": term})

    assert [row.return_id for row in response.context["cl"].result_list] == [wanted.return_id]


def test_search_by_line_sku_imei_and_short_id(admin_client, make_return):
    line = {"sku": "UNIQUE-SKU", "qty": 1, "quality": "new", "reason_code": "r", "imei": "490154203237518"}
    wanted = make_return(items=[line, {**line, "sku": "UNIQUE-SKU-2", "imei": None}])
    make_return()

    for term in ("UNIQUE-SKU", "490154203237518", wanted.short_id):
        response = admin_client.get(CHANGELIST, {"q": term})
        assert [row.return_id for row in response.context["cl"].result_list] == [wanted.return_id], term


def test_search_by_a_line_serial_number(admin_client, make_return):
    line = {"sku": "S-1", "qty": 1, "quality": "new", "reason_code": "r", "serial": "SN-WANTED"}
    wanted = make_return(items=[line])
    make_return()

    response = admin_client.get(CHANGELIST, {"q": "SN-WANTED"})

    assert [row.return_id for row in response.context["cl"].result_list] == [wanted.return_id]


def test_the_line_search_asks_the_lines_with_exists_and_never_de_duplicates(admin_client, make_return):
    line = {"sku": "DUP-SKU", "qty": 1, "quality": "new", "reason_code": "r"}
    wanted = make_return(items=[line, {**line, "qty": 2}])

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(CHANGELIST, {"q": "DUP-SKU"})

    assert [row.return_id for row in response.context["cl"].result_list] == [wanted.return_id]
    listed = [query["sql"] for query in queries.captured_queries if '"returns_return"' in query["sql"]]
    assert any("EXISTS" in sql for sql in listed)
    assert not any("DISTINCT" in sql for sql in listed)
    assert not any(
        'INNER JOIN "returns_returnline"' in sql or 'LEFT OUTER JOIN "returns_returnline"' in sql for sql in listed
    )


def test_the_list_counts_lines_per_row_without_grouping_the_table(admin_client, make_return):
    line = {"sku": "A", "qty": 2, "quality": "new", "reason_code": "r"}
    make_return(items=[line, {**line, "sku": "B", "qty": 3}])

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(CHANGELIST)

    [row] = response.context["cl"].result_list
    assert (row.line_count, row.total_qty) == (2, 5)
    listed = [query["sql"] for query in queries.captured_queries if 'FROM "returns_return"' in query["sql"]]
    assert listed and not any('JOIN "returns_returnline"' in sql for sql in listed)


def test_the_change_page_shows_lines_and_the_history_page_renders(admin_client, make_return):
    target = make_return()

    change = admin_client.get(reverse("admin:returns_return_change", args=[target.return_id]))
    history = admin_client.get(reverse("admin:returns_return_history", args=[target.return_id]))

    assert change.status_code == 200
    assert "SKU-1002" in change.content.decode()
    assert history.status_code == 200
    assert "created by factory" in history.content.decode()


@pytest.mark.parametrize(
    "path",
    [
        "/admin/returns/return/abc/history/",
        "/admin/returns/return/abc/history/1/",
        "/admin/returns/return/5b1f0a4c-6a43-4a43-9d3c-1a4b9f7e0000/history/abc/",
    ],
)
def test_a_history_page_for_ids_that_cannot_exist_is_404(admin_client, path):
    response = admin_client.get(path)

    assert response.status_code == 404


@pytest.mark.parametrize(
    ("action", "start", "end"),
    [("accept", "pending", "accepted"), ("reject", "pending", "rejected"), ("cancel", "accepted", "cancelled")],
)
def test_status_actions_go_through_the_services(admin_client, make_return, action, start, end):
    target = make_return(status=start)

    response = admin_client.post(CHANGELIST, {"action": action, "_selected_action": [str(target.return_id)]})

    assert response.status_code == 302
    target.refresh_from_db()
    assert target.status == end
    assert target.history.first().history_change_reason == f"{end} by admin:admin"


def test_a_refused_transition_is_reported_and_changes_nothing(admin_client, make_return):
    target = make_return(status="rejected")

    response = admin_client.post(
        CHANGELIST, {"action": "accept", "_selected_action": [str(target.return_id)]}, follow=True
    )

    assert "перевести его в «accepted» нельзя" in response.content.decode()
    assert Return.objects.get().status == "rejected"


def test_export_writes_one_row_per_line(admin_client, make_return):
    first = make_return(comment="=HYPERLINK(evil)")
    make_return()

    response = admin_client.post(CHANGELIST, {"action": "export_csv", "_selected_action": [str(first.return_id)]})

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["return_id", "status", "source"]
    assert [row[0] for row in rows[1:]] == [str(first.return_id)] * 2
    assert [row[10] for row in rows[1:]] == ["SKU-1001", "SKU-1002"]
    assert rows[1][6] == "'=HYPERLINK(evil)"


def test_returns_cannot_be_added_or_deleted_in_the_admin(admin_client, make_return):
    target = make_return()

    assert admin_client.get(reverse("admin:returns_return_add")).status_code == 403
    assert admin_client.get(reverse("admin:returns_return_delete", args=[target.return_id])).status_code == 403


def test_the_courier_changelist_filters_and_searches(admin_client, courier):
    Courier.objects.create(courier_id="courier-002", display_name="Пётр", is_active=False)
    url = reverse("admin:returns_courier_changelist")

    active = admin_client.get(url, {"is_active__exact": "1"})
    searched = admin_client.get(url, {"q": "Пётр"})

    assert [c.courier_id for c in active.context["cl"].result_list] == ["courier-001"]
    assert [c.courier_id for c in searched.context["cl"].result_list] == ["courier-002"]


def test_the_courier_page_lists_recent_returns(admin_client, courier, make_return):
    own = make_return(courier_id="courier-001")
    other = make_return(courier_id="courier-002")

    response = admin_client.get(reverse("admin:returns_courier_change", args=["courier-001"]))

    content = response.content.decode()
    assert response.status_code == 200
    assert own.short_id in content
    assert other.short_id not in content


def test_the_courier_add_page_renders(admin_client):
    assert admin_client.get(reverse("admin:returns_courier_add")).status_code == 200


def test_idempotency_records_are_read_only_and_searchable(admin_client, courier_api):
    from mastermobile.models import IdempotencyRecord
    from tests.returns.conftest import URL, VALID_BODY, send

    send(courier_api, "post", URL, VALID_BODY, key="find-me")
    record = IdempotencyRecord.objects.get()
    url = reverse("admin:mastermobile_idempotencyrecord_changelist")

    found = admin_client.get(url, {"q": "find-me"})
    change = admin_client.get(reverse("admin:mastermobile_idempotencyrecord_change", args=[record.pk]))

    assert [r.pk for r in found.context["cl"].result_list] == [record.pk]
    assert change.status_code == 200
    assert b'name="_save"' not in change.content
