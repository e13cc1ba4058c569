"""Transcript search (CALL-21): the selector, the API and the admin pages that show transcripts (CALL-13, CALL-14)."""

from __future__ import annotations

import dataclasses
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator

from calls.models import CallRecordStatus
from calls.selectors import search as selectors
from tests.calls.transcripts import DIALOGUE, make_record, make_transcribed

pytestmark = pytest.mark.django_db

SEARCH_URL = "/api/v1/b24-calls/transcripts/search"
HOSTILE = "Клиент: мой заказ <script>alert('x')</script> и <mark>не</mark> <b>жирный</b> пришёл"


def tags(snippet: str) -> list[str]:
    return re.findall(r"<[^>]*>", snippet)


def search(query: str, **paging) -> selectors.TranscriptSearchPage:
    return selectors.transcript_search(query=query, **paging)


@pytest.fixture
def admin_client(client):
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))
    return client


def staff_client(client, *codenames: str):
    user = get_user_model().objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return client


# The selector, on either database ----------------------------------------------------------


@pytest.mark.parametrize("query", ["", "   ", '""'])
def test_a_blank_query_finds_nothing(query):
    make_transcribed()

    page = search(query)

    assert (page.hits, page.has_next) == ([], False)


def test_a_word_finds_the_transcripts_that_say_it_and_no_others():
    wanted = make_transcribed("Оператор: курьер приедет завтра")
    make_transcribed("Оператор: возврат оформлен")

    page = search("курьер")

    assert [hit.record.pk for hit in page.hits] == [wanted.pk]
    assert page.hits[0].record.call_id == wanted.call_id


def test_the_snippet_marks_the_match():
    make_transcribed("Оператор: курьер приедет завтра с 10 до 14 часов")

    snippet = search("курьер").hits[0].snippet

    assert "<mark>курьер</mark>" in snippet.lower()


def test_html_in_the_text_is_escaped_and_only_mark_survives():
    make_transcribed(HOSTILE)

    snippet = search("заказ").hits[0].snippet

    assert set(tags(snippet)) == {"<mark>", "</mark>"}
    assert "&lt;script&gt;" in snippet and "&lt;mark&gt;не&lt;/mark&gt;" in snippet


def test_purged_transcripts_are_not_found():
    make_transcribed("Оператор: курьер приедет", purged=True)

    assert search("курьер").hits == []


def test_limit_and_offset_page_through_the_hits():
    for _ in range(5):
        make_transcribed("Клиент: где мой курьер")

    first, last = search("курьер", limit=2, offset=0), search("курьер", limit=2, offset=4)

    assert (len(first.hits), first.has_next) == (2, True)
    assert (len(last.hits), last.has_next) == (1, False)
    seen = {hit.record.pk for offset in (0, 2, 4) for hit in search("курьер", limit=2, offset=offset).hits}
    assert len(seen) == 5


def test_the_matching_record_ids_feed_a_filter():
    wanted = make_transcribed("Клиент: курьер опоздал")
    make_transcribed("Клиент: всё хорошо")

    assert list(selectors.transcript_record_ids(query="курьер")) == [{"call_record_id": wanted.pk}]


def test_the_plain_snippet_shows_words_around_the_first_match_and_marks_each():
    text = " ".join(f"слово{n}" for n in range(40)) + " ЗАКАЗ и снова заказ " + " ".join(f"хвост{n}" for n in range(40))

    snippet = selectors.plain_snippet(text, ["заказ"])

    words = re.sub(r"</?mark>", "", snippet).split()
    assert snippet.startswith("… слово30 ") and snippet.endswith(" …")
    assert len([word for word in words if word != "…"]) == selectors.SNIPPET_WORDS
    assert snippet.count("<mark>") == 2 and "<mark>ЗАКАЗ</mark>" in snippet


def test_the_plain_snippet_starts_at_the_word_that_holds_the_match():
    snippet = selectors.plain_snippet("Клиент: оформил предзаказ <b>вчера</b>", ["заказ"])

    assert snippet == "Клиент: оформил пред<mark>заказ</mark> &lt;b&gt;вчера&lt;/b&gt;"


# PostgreSQL full text ----------------------------------------------------------------------


@pytest.mark.postgres
def test_russian_stemming_finds_other_forms_of_a_word():
    singular = make_transcribed("Клиент: мой заказ не пришёл")
    genitive = make_transcribed("Оператор: назовите номер заказа")

    page = search("заказы")

    assert {hit.record.pk for hit in page.hits} == {singular.pk, genitive.pk}


@pytest.mark.postgres
def test_hits_are_ranked_by_cover_density_best_first():
    once = make_transcribed("Клиент: курьер. " + "Мы говорили о погоде и о разном. " * 20)
    often = make_transcribed("Клиент: курьер курьер, где курьер? Курьер опоздал.")

    hits = search("курьер").hits

    assert [hit.record.pk for hit in hits] == [often.pk, once.pk]
    first, second = hits[0].rank, hits[1].rank
    assert first is not None and second is not None and first > second > 0


@pytest.mark.postgres
def test_websearch_syntax_excludes_words_and_matches_phrases():
    cancelled = make_transcribed("Клиент: доставка заказа отменена")
    delivered = make_transcribed("Клиент: заказ доставлен, доставка быстрая")

    assert [hit.record.pk for hit in search("доставка -отменена").hits] == [delivered.pk]
    assert [hit.record.pk for hit in search('"доставка заказа"').hits] == [cancelled.pk]


@pytest.mark.postgres
def test_the_headline_is_one_fragment_of_at_most_30_words():
    make_transcribed(" ".join(["разговор"] * 80 + ["курьер"] + ["прощание"] * 80))

    snippet = search("курьер").hits[0].snippet

    assert "<mark>курьер</mark>" in snippet
    assert len(re.sub(r"</?mark>", "", snippet).split()) <= selectors.SNIPPET_WORDS


@pytest.mark.postgres
def test_the_headline_escapes_html_of_the_text():
    make_transcribed(HOSTILE)

    snippet = search("заказ").hits[0].snippet

    assert tags(snippet) == ["<mark>", "</mark>"]
    assert "&lt;script&gt;alert('x')&lt;/script&gt;" in snippet


@pytest.mark.postgres
def test_only_the_newest_matching_calls_are_ranked(monkeypatch):
    monkeypatch.setattr(selectors, "SEARCH_RANK_WINDOW", 2)
    # make_record starts each call an hour after the previous one: the best match is the oldest.
    oldest_best = make_transcribed("Клиент: курьер курьер, где курьер? Курьер опоздал.")
    once = make_transcribed("Клиент: курьер. " + "Мы говорили о погоде и о разном. " * 20)
    newest_often = make_transcribed("Курьер, курьер, курьер приехал.")

    hits = search("курьер").hits

    assert [hit.record.pk for hit in hits] == [newest_often.pk, once.pk]
    assert oldest_best.pk not in [hit.record.pk for hit in hits]


def test_a_transcript_carries_its_calls_start_for_the_search_order():
    record = make_transcribed()

    assert record.transcript.call_started_at == record.call_started_at


@pytest.mark.postgres
def test_the_search_can_use_the_gin_index():
    make_transcribed()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # the table is tiny; ask whether the index fits at all
        plan = selectors.transcript_record_ids(query="заказ").explain()

    assert "calls_transcript_text_search" in plan


@pytest.mark.postgres
def test_ranking_reads_the_stored_vector_and_orders_by_keys_first():
    wanted = make_transcribed()
    with CaptureQueriesContext(connection) as queries:
        page = search("заказ")

    assert [hit.record.pk for hit in page.hits] == [wanted.pk]
    keys, rows = (query["sql"] for query in queries.captured_queries)
    assert "to_tsvector" not in keys + rows
    assert '"search_vector"' in keys and keys.startswith('SELECT "calls_transcript"."id"')
    assert "ts_headline" in rows and "ts_headline" not in keys


# API ----------------------------------------------------------------------------------------


def test_the_api_needs_a_token(api_client):
    response = api_client.get(SEARCH_URL, {"q": "заказ"})

    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize(("role", "subject"), [("1c", "onec-prod"), ("courier", "courier-001")])
def test_only_the_admin_role_may_search(client_for, role, subject):
    assert client_for(role, subject).get(SEARCH_URL, {"q": "заказ"}).status_code == 403


def test_staff_need_the_permission_to_view_call_records(client):
    refused = staff_client(client, "view_return").get(SEARCH_URL, {"q": "заказ"})

    assert refused.status_code == 403


def test_staff_with_view_permission_may_search(client):
    make_transcribed()

    response = staff_client(client, "view_callrecord").get(SEARCH_URL, {"q": "заказ"})

    assert response.status_code == 200 and len(response.json()["items"]) == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"offset": "10001"}, "offset"),
        ({"q": "a" * 501}, "q"),
        ({"q": "за\x00каз"}, "q"),
    ],
)
def test_a_bad_limit_offset_or_query_is_a_422_problem(client_for, params, field):
    response = client_for("admin").get(SEARCH_URL, {"q": "заказ", **params})

    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert [error["field"] for error in response.json()["errors"]] == [field]


@pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": "   "}])
def test_a_blank_query_answers_an_empty_list(client_for, params):
    make_transcribed()

    response = client_for("admin").get(SEARCH_URL, params)

    assert response.status_code == 200
    assert response.json() == {"items": [], "limit": 20, "offset": 0, "has_next": False}


def test_an_item_names_its_record_call_start_rank_snippet_and_language(client_for, on_postgres):
    record = make_transcribed(HOSTILE)

    item = client_for("admin").get(SEARCH_URL, {"q": "заказ"}).json()["items"][0]

    assert item["record_id"] == record.pk and item["call_id"] == record.call_id
    assert record.call_started_at is not None
    assert item["call_started_at"] == record.call_started_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert item["language"] == "ru"
    assert (item["rank"] > 0) if on_postgres else item["rank"] is None
    assert "<mark>заказ</mark>" in item["snippet"] and "<script>" not in item["snippet"]


def test_limit_and_offset_page_the_api(client_for):
    for _ in range(3):
        make_transcribed("Клиент: где мой курьер")
    api = client_for("admin")

    first = api.get(SEARCH_URL, {"q": "курьер", "limit": 2}).json()
    second = api.get(SEARCH_URL, {"q": "курьер", "limit": 2, "offset": 2}).json()

    assert (len(first["items"]), first["has_next"], second["offset"]) == (2, True, 2)
    assert (len(second["items"]), second["has_next"]) == (1, False)
    assert len({item["record_id"] for item in first["items"] + second["items"]}) == 3


def test_the_schema_documents_the_search_its_parameters_and_422():
    schema = SchemaGenerator().get_schema(request=None, public=True)

    operation = schema["paths"][SEARCH_URL]["get"]
    parameters = {parameter["name"]: parameter for parameter in operation["parameters"]}
    assert parameters["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}
    assert parameters["offset"]["schema"]["minimum"] == 0
    assert parameters["q"]["allowEmptyValue"] is True
    assert {"200", "401", "403", "422"} <= operation["responses"].keys()
    assert operation["tags"] == ["b24-calls"]


# Admin ----------------------------------------------------------------------------------------


def record_page(client, record) -> str:
    response = client.get(reverse("admin:calls_callrecord_change", args=[record.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_record_page_shows_the_dialogue_with_its_facts_and_summary(admin_client):
    record = make_transcribed(bullets=["Клиент ждёт курьера.", "Курьер приедет завтра."])

    page = record_page(admin_client, record)

    assert '<span class="mm-speaker mm-speaker-operator">Оператор:</span> Здравствуйте' in page
    assert '<span class="mm-speaker mm-speaker-client">Клиент:</span> Заказ 10452' in page
    for fact in ("Русский", "<td>openai-whisper</td>", "<td>whisper-1</td>", "<td>3</td>", "$0,02", "<td>2</td>"):
        assert fact in page
    assert "Краткое содержание" in page and "<li>Курьер приедет завтра.</li>" in page


def test_the_record_page_escapes_html_in_the_transcript(admin_client):
    page = record_page(admin_client, make_transcribed(HOSTILE))

    assert "&lt;script&gt;" in page and "<script>alert" not in page


def test_a_record_not_transcribed_yet_says_so(admin_client):
    page = record_page(admin_client, make_record(status=CallRecordStatus.DOWNLOADED))

    assert "Расшифровки пока нет: звонок ещё обрабатывается." in page


def test_a_skipped_record_says_it_was_not_transcribed(admin_client):
    page = record_page(admin_client, make_record(status=CallRecordStatus.SKIPPED, error_code="stt_disabled"))

    assert "Расшифровки нет: звонок не расшифровывался" in page


def test_a_purged_transcript_says_when_its_text_was_deleted(admin_client):
    page = record_page(admin_client, make_transcribed(purged=True))

    assert "Текст удалён" in page and "<td>whisper-1</td>" in page


def test_numbers_said_in_the_call_are_masked_when_pii_masking_is_on(client, settings):
    settings.APP_CONFIG = dataclasses.replace(settings.APP_CONFIG, pii_masking_enabled=True)
    record = make_transcribed("Клиент: перезвоните мне на +7 916 555-44-33, пожалуйста")

    page = record_page(staff_client(client, "view_callrecord"), record)

    assert "555-44-33" not in page and "перезвоните мне на +7***, пожалуйста" in page


@pytest.mark.parametrize(("value", "expected"), [("yes", 1), ("no", 1), ("purged", 1), (None, 3)])
def test_the_changelist_filters_by_transcript(admin_client, value, expected):
    make_transcribed()
    make_transcribed(purged=True)
    make_record()

    response = admin_client.get(reverse("admin:calls_callrecord_changelist"), {"transcript": value} if value else {})

    assert response.status_code == 200
    assert response.context["cl"].result_count == expected


def test_the_changelist_search_finds_words_of_the_transcript(admin_client):
    wanted = make_transcribed("Клиент: курьер опоздал на час")
    make_transcribed("Клиент: всё пришло вовремя")

    response = admin_client.get(reverse("admin:calls_callrecord_changelist"), {"q": "курьер"})

    assert [record.pk for record in response.context["cl"].result_list] == [wanted.pk]
    assert reverse("admin:calls_callrecord_transcript_search") + "?q=%D0%BA%D1%83%D1%80%D1%8C%D0%B5%D1%80" in (
        response.content.decode()
    )


def test_the_changelist_search_still_finds_a_call_id(admin_client):
    wanted = make_transcribed()
    make_transcribed()

    response = admin_client.get(reverse("admin:calls_callrecord_changelist"), {"q": wanted.call_id})

    assert [record.pk for record in response.context["cl"].result_list] == [wanted.pk]


def test_the_search_page_asks_for_words_when_the_query_is_blank(admin_client):
    make_transcribed()

    response = admin_client.get(reverse("admin:calls_callrecord_transcript_search"), {"q": "  "})

    assert response.status_code == 200
    assert "Введите слова" in response.content.decode() and 'id="result_list"' not in response.content.decode()


def test_the_search_page_links_each_hit_to_its_record_with_a_marked_fragment(admin_client):
    record = make_transcribed(HOSTILE)

    response = admin_client.get(reverse("admin:calls_callrecord_transcript_search"), {"q": "заказ"})

    page = response.content.decode()
    assert f'<a href="{reverse("admin:calls_callrecord_change", args=[record.pk])}">{record.call_id}</a>' in page
    assert "<mark>заказ</mark>" in page and "<script>alert" not in page
    assert "<h1>Поиск по расшифровкам</h1>" in page


def test_the_search_page_says_when_nothing_matches(admin_client):
    make_transcribed(DIALOGUE)

    page = admin_client.get(reverse("admin:calls_callrecord_transcript_search"), {"q": "пылесос"}).content.decode()

    assert "Ничего не найдено по запросу «пылесос»." in page


def test_the_search_page_pages_by_twenty(admin_client):
    for _ in range(21):
        make_transcribed("Клиент: где мой курьер")
    url = reverse("admin:calls_callrecord_transcript_search")

    first = admin_client.get(url, {"q": "курьер"}).content.decode()
    second = admin_client.get(url, {"q": "курьер", "offset": 20}).content.decode()

    assert first.count("<mark>") == 20 and "offset=20" in first
    assert second.count("<mark>") == 1 and "offset=0" in second


def test_the_search_page_needs_the_permission_to_view_call_records(client):
    response = staff_client(client, "view_return").get(reverse("admin:calls_callrecord_transcript_search"))

    assert response.status_code == 403
