"""The lists of large tables read little: no count of the whole table, no facets, no month list, indexed filters.

Pinned on the SQL the call records' list sends (mastermobile.admin.LargeListMixin and its filters);
docs/performance.md has the pages these keep under half a second at a million rows.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from calls.models import CallRecord, CallRecordStatus
from integrations.models import IntegrationLog
from mastermobile import admin as platform_admin
from mastermobile.admin import EstimatedCountPaginator, distinct_values
from tests.calls.transcripts import make_record

pytestmark = pytest.mark.django_db
LIST = reverse("admin:calls_callrecord_changelist")
RUSSIAN = {"HTTP_ACCEPT_LANGUAGE": "ru"}


def statements(admin_client, path: str, params: dict | None = None) -> tuple[str, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(path, params or {}, **RUSSIAN)
    assert response.status_code == 200
    return response.content.decode(), [query["sql"] for query in queries.captured_queries]


def counts(sql: list[str]) -> list[str]:
    return [statement for statement in sql if "COUNT(" in statement.upper()]


@pytest.mark.postgres
def test_the_unfiltered_list_takes_the_count_from_the_table_statistics(admin_client, monkeypatch):
    for _ in range(3):
        make_record()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE calls_callrecord")
    monkeypatch.setattr(platform_admin, "ESTIMATE_ABOVE", 0)

    html, sql = statements(admin_client, LIST)

    assert counts(sql) == []
    assert any("reltuples" in statement for statement in sql)
    assert "Записи звонков: ≈ 3" in html


def test_a_filtered_list_counts_at_most_the_cap_and_says_there_are_more(admin_client, monkeypatch):
    for _ in range(3):
        make_record(status=CallRecordStatus.ERROR)
    monkeypatch.setattr(EstimatedCountPaginator, "cap", 2)

    html, sql = statements(admin_client, LIST, {"status__exact": "error"})

    [count] = counts(sql)
    assert "LIMIT 3" in count
    assert "Записи звонков: больше 2" in html
    assert "найдено: больше 2" in html


def test_a_small_filtered_list_is_counted_exactly(admin_client):
    make_record(status=CallRecordStatus.ERROR)
    make_record()

    response = admin_client.get(LIST, {"status__exact": "error"}, **RUSSIAN)

    assert response.context["cl"].result_count == 1
    assert response.context["cl"].paginator.count_kind == "exact"


def test_show_counts_adds_no_facet_aggregate(admin_client):
    make_record()

    _html, sql = statements(admin_client, LIST, {"_facets": "True"})

    assert not any("FILTER (WHERE" in statement.upper() for statement in sql)
    assert len(counts(sql)) == 1


def test_the_list_has_no_month_navigation_built_from_the_table(admin_client):
    make_record()

    _html, sql = statements(admin_client, LIST)

    assert not any("DISTINCT" in statement.upper() and "TRUNC" in statement.upper() for statement in sql)
    assert not any("SELECT DISTINCT" in statement.upper() for statement in sql)


def test_the_list_reads_none_of_the_large_columns(admin_client):
    make_record(raw_payload={"COMMENT": "x" * 1000})

    _html, sql = statements(admin_client, LIST)

    [page] = [statement for statement in sql if 'FROM "calls_callrecord"' in statement and "LIMIT" in statement]
    assert '"raw_payload"' not in page and '"error_message"' not in page and '"text_preview"' not in page


def test_the_employee_filter_finds_its_values_by_a_loose_index_scan(admin_client):
    for employee in ("emp-2", "emp-1", "emp-2", None):
        make_record(employee_id=employee)

    html, sql = statements(admin_client, LIST)

    [values] = [statement for statement in sql if "WITH RECURSIVE" in statement.upper()]
    assert "MIN(" in values.upper() and '"employee_id" >' in values
    assert "?employee_id=emp-1" in html and "?employee_id=emp-2" in html


def test_distinct_values_are_in_order_and_stop_at_the_limit():
    for code in ("b", "a", "c", "a", None):
        IntegrationLog.objects.create(
            direction="outbound", external_system="b24", endpoint="/x", status="error", error_code=code
        )

    assert distinct_values(IntegrationLog, "error_code", limit=10) == ["a", "b", "c"]
    assert distinct_values(IntegrationLog, "error_code", limit=2) == ["a", "b"]


def test_the_date_range_takes_whole_local_days_both_included(admin_client, settings):
    settings.TIME_ZONE = "Europe/Moscow"
    inside = make_record(call_started_at=datetime(2026, 10, 2, 20, 59, tzinfo=UTC))  # 23:59 in Moscow
    make_record(call_started_at=datetime(2026, 10, 2, 21, 0, tzinfo=UTC))  # 00:00 of the next day
    make_record(call_started_at=datetime(2026, 9, 30, 20, 59, tzinfo=UTC))  # the day before, 23:59

    response = admin_client.get(
        LIST, {"call_started_at__from": "2026-10-01", "call_started_at__to": "2026-10-02"}, **RUSSIAN
    )

    assert [record.pk for record in response.context["cl"].result_list] == [inside.pk]
    html = response.content.decode()
    assert 'name="call_started_at__from" value="2026-10-01"' in html
    assert ">с <input" in html and ">по <input" in html


def test_the_date_range_form_keeps_the_other_filters(admin_client):
    make_record()

    html = admin_client.get(LIST, {"status__exact": "error", "q": "call"}, **RUSSIAN).content.decode()

    form = html.split('class="mm-date-range"')[1].split("</form>")[0]
    assert '<input type="hidden" name="status__exact" value="error">' in form
    assert '<input type="hidden" name="q" value="call">' in form


def test_a_day_that_does_not_parse_filters_nothing_and_says_why(admin_client):
    make_record()

    response = admin_client.get(LIST, {"call_started_at__from": "31.02.2026"}, **RUSSIAN)

    assert response.status_code == 200
    assert response.context["cl"].result_count == 1
    assert "Введите дни так, как их предлагает календарь." in response.content.decode()


def test_the_search_compares_ids_exactly_and_numbers_by_a_plain_like(admin_client):
    wanted = make_record(from_number="+79160004567")
    make_record(from_number="+79160001111", to_number="+74950001111")

    response = admin_client.get(LIST, {"q": "4567"}, **RUSSIAN)
    _html, sql = statements(admin_client, LIST, {"q": "4567"})

    assert [record.pk for record in response.context["cl"].result_list] == [wanted.pk]
    [page] = [statement for statement in sql if "LIMIT" in statement and "UNION" in statement.upper()]
    assert "UPPER(" not in page
    assert '"call_id" = ' in page and '"employee_id" = ' in page


def test_the_search_finds_a_call_by_its_recording_id_and_employee(admin_client):
    wanted = make_record(record_id="rec-wanted", employee_id="emp-7")
    make_record()

    for term in ("rec-wanted", "emp-7", wanted.call_id):
        found = admin_client.get(LIST, {"q": term}).context["cl"].result_list
        assert [record.pk for record in found] == [wanted.pk], term


@pytest.mark.postgres
def test_every_branch_of_the_record_search_has_an_index_on_postgresql():
    from calls.selectors import search as selectors

    make_record()
    query = selectors.record_search(CallRecord.objects.all(), query="4567").order_by("call_started_at", "id")[:100]
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        # With sequential scans priced out, every branch the planner can answer from an index shows it.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET enable_seqscan")

    assert "Seq Scan" not in plan
    for index in ("callrecord_from_number_trgm", "callrecord_to_number_trgm", "callrecord_record_id"):
        assert index in plan


def test_a_deep_page_skips_the_rows_before_it_by_their_keys_only(admin_client, monkeypatch):
    from calls.admin import CallRecordAdmin

    older, newer = make_record(), make_record()
    monkeypatch.setattr(CallRecordAdmin, "list_per_page", 1)

    # Newest first: the second page holds the older call.
    response = admin_client.get(LIST, {"p": 2})
    _html, sql = statements(admin_client, LIST, {"p": 2})

    assert [record.pk for record in response.context["cl"].result_list] == [older.pk]
    assert older.pk != newer.pk
    [keys] = [statement for statement in sql if "OFFSET 1" in statement]
    assert keys.split(" FROM ")[0] in ('SELECT "calls_callrecord"."id"', 'SELECT "calls_callrecord"."id" AS "pk"')
    assert any(f'"calls_callrecord"."id" IN ({older.pk})' in statement for statement in sql)


def test_the_capped_count_does_not_sort(admin_client):
    make_record(status=CallRecordStatus.ERROR)

    _html, sql = statements(admin_client, LIST, {"status__exact": "error"})

    [count] = counts(sql)
    assert "ORDER BY" not in count


@pytest.mark.postgres
def test_the_distinct_error_codes_are_read_from_their_partial_index():
    IntegrationLog.objects.create(direction="outbound", external_system="b24", endpoint="/x", status="error")
    with CaptureQueriesContext(connection) as queries:
        distinct_values(IntegrationLog, "error_code", limit=10)
    [sql] = [query["sql"] for query in queries.captured_queries]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET enable_seqscan")

    assert "Seq Scan" not in plan
    assert "integrationlog_error_code" in plan
