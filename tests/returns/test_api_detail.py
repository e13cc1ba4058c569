import uuid

import pytest

from returns.models import Return, ReturnLine
from tests.returns.conftest import detail_url, new_key, send

pytestmark = pytest.mark.django_db


def test_it_gets_a_return_by_id(onec_api, make_return):
    target = make_return()

    response = onec_api.get(detail_url(target.return_id))

    assert response.status_code == 200
    assert response.json()["id"] == str(target.return_id)
    assert [item["sku"] for item in response.json()["items"]] == ["SKU-1001", "SKU-1002"]


@pytest.mark.parametrize("return_id", [str(uuid.uuid4()), "abc", "123"])
def test_an_unknown_or_malformed_id_is_404_problem(onec_api, return_id):
    response = onec_api.get(detail_url(return_id))

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


def test_a_get_runs_two_queries(onec_api, make_return, django_assert_num_queries, throttle_queries):
    target = make_return()
    onec_api.get(detail_url(target.return_id))  # the caller's throttle bucket exists, as after its first request

    with django_assert_num_queries(2 + throttle_queries):
        onec_api.get(detail_url(target.return_id))


def test_put_replaces_the_header_and_all_lines(onec_api, make_return, body):
    target = make_return()
    old_line_pks = set(target.lines.values_list("pk", flat=True))
    body["comment"] = "recounted"
    body["items"] = [{"sku": "SKU-2000", "qty": 7, "quality": "unknown", "reason_code": "recount"}]

    response = send(onec_api, "put", detail_url(target.return_id), body, key=new_key())

    assert response.status_code == 200
    assert response.json()["comment"] == "recounted"
    assert [(i["line_id"], i["sku"], i["qty"]) for i in response.json()["items"]] == [("line_1", "SKU-2000", 7)]
    assert not ReturnLine.objects.filter(pk__in=old_line_pks).exists()
    assert ReturnLine.objects.count() == 1


def test_put_on_an_accepted_return_is_409(onec_api, make_return, body):
    target = make_return(status="accepted")

    response = send(onec_api, "put", detail_url(target.return_id), body, key=new_key())

    assert response.status_code == 409
    assert response.json()["type"].endswith("/conflict")
    assert "only pending returns can be replaced" in response.json()["detail"]


def test_put_without_a_key_is_400(onec_api, make_return, body):
    target = make_return()

    response = send(onec_api, "put", detail_url(target.return_id), body)

    assert response.status_code == 400


def test_put_on_an_unknown_return_is_404(onec_api, body):
    response = send(onec_api, "put", detail_url(uuid.uuid4()), body, key=new_key())

    assert response.status_code == 404


def test_delete_cancels_logically(admin_api, make_return):
    target = make_return()

    response = send(admin_api, "delete", detail_url(target.return_id), key=new_key())

    assert response.status_code == 204
    assert response.content == b""
    fetched = admin_api.get(detail_url(target.return_id)).json()
    assert fetched["status"] == "cancelled"
    assert len(fetched["items"]) == 2


def test_deleting_again_with_a_new_key_is_204(admin_api, make_return):
    target = make_return()
    send(admin_api, "delete", detail_url(target.return_id), key=new_key())

    response = send(admin_api, "delete", detail_url(target.return_id), key=new_key())

    assert response.status_code == 204
    assert Return.objects.get().status == "cancelled"


def test_deleting_a_rejected_return_is_409(admin_api, make_return):
    target = make_return(status="rejected")

    response = send(admin_api, "delete", detail_url(target.return_id), key=new_key())

    assert response.status_code == 409
    assert Return.objects.get().status == "rejected"


@pytest.mark.parametrize("return_id", [str(uuid.uuid4()), "abc"])
def test_deleting_an_unknown_return_is_404(admin_api, return_id):
    response = send(admin_api, "delete", detail_url(return_id), key=new_key())

    assert response.status_code == 404


def test_a_trailing_slash_is_not_a_route(onec_api):
    response = onec_api.get("/api/v1/returns/")

    assert response.status_code == 404


def test_the_replaced_body_is_what_a_later_get_answers(onec_api, make_return, body):
    target = make_return()
    body["items"] = [{"sku": "SKU-3000", "qty": 3, "quality": "new", "reason_code": "recount", "photos": ["f-1"]}]

    replaced = send(onec_api, "put", detail_url(target.return_id), body, key=new_key()).json()

    assert onec_api.get(detail_url(target.return_id)).json() == replaced
