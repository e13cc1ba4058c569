"""RET-16 and RET-40 cases 8–10: every bad input is refused and nothing is stored."""

import copy
import json
from typing import Any

import pytest

from mastermobile.models import IdempotencyRecord
from returns.models import Return, ReturnLine
from tests.returns.conftest import URL, VALID_BODY, new_key, send

pytestmark = pytest.mark.django_db


def _with(path: str, value):
    """A copy of the valid body with one value replaced; path like ``items.0.qty``."""
    body = copy.deepcopy(VALID_BODY)
    target: Any = body
    *parents, last = path.split(".")
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    target[int(last) if last.isdigit() else last] = value
    return body


def _without(path: str):
    body = copy.deepcopy(VALID_BODY)
    *parents, last = path.split(".")
    target: Any = body
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    del target[last]
    return body


BAD_BODIES = [
    ("empty items", _with("items", []), "items"),
    ("501 items", _with("items", [VALID_BODY["items"][0]] * 501), "items"),
    ("items not a list", _with("items", {"sku": "x"}), "items"),
    ("item not an object", _with("items", ["SKU-1"]), "items[0]"),
    ("qty zero", _with("items.0.qty", 0), "items[0].qty"),
    ("qty negative", _with("items.0.qty", -1), "items[0].qty"),
    ("qty fractional", _with("items.0.qty", 1.5), "items[0].qty"),
    ("qty float one", _with("items.0.qty", 1.0), "items[0].qty"),
    ("qty string", _with("items.0.qty", "1"), "items[0].qty"),
    ("qty boolean", _with("items.0.qty", True), "items[0].qty"),
    ("qty over 10000", _with("items.0.qty", 10_001), "items[0].qty"),
    ("qty missing", _without("items.0.qty"), "items[0].qty"),
    ("quality broken", _with("items.0.quality", "broken"), "items[0].quality"),
    ("blank reason code", _with("items.0.reason_code", ""), "items[0].reason_code"),
    ("whitespace reason code", _with("items.0.reason_code", "   "), "items[0].reason_code"),
    ("blank sku", _with("items.0.sku", " "), "items[0].sku"),
    ("sku too long", _with("items.0.sku", "S" * 65), "items[0].sku"),
    ("sku a number", _with("items.0.sku", 1001), "items[0].sku"),
    ("imei 13 digits", _with("items.1.imei", "1" * 13), "items[1].imei"),
    ("imei 17 digits", _with("items.1.imei", "1" * 17), "items[1].imei"),
    ("imei letters", _with("items.1.imei", "35693803564380A"), "items[1].imei"),
    ("imei empty", _with("items.1.imei", ""), "items[1].imei"),
    ("21 photos", _with("items.1.photos", [f"f{n}" for n in range(21)]), "items[1].photos"),
    ("reason note too long", _with("items.1.reason_note", "n" * 1001), "items[1].reason_note"),
    ("unknown item field", _with("items.0.colour", "red"), "items[0].colour"),
    ("unknown top-level field", _with("courier", "courier-001"), "courier"),
    ("read-only id sent", _with("id", "3f1c"), "id"),
    ("source email", _with("source", "email"), "source"),
    ("source missing", _without("source"), "source"),
    ("courier id blank", _with("courier_id", ""), "courier_id"),
    ("courier id too long", _with("courier_id", "c" * 65), "courier_id"),
    ("courier id null", _with("courier_id", None), "courier_id"),
    ("comment too long", _with("comment", "c" * 2001), "comment"),
    ("order id too long", _with("order_id_1c", "o" * 65), "order_id_1c"),
]


@pytest.mark.parametrize(("case", "payload", "field"), BAD_BODIES, ids=[case for case, _, _ in BAD_BODIES])
def test_a_bad_field_is_422_naming_it_and_nothing_is_stored(admin_api, case, payload, field):
    before = (Return.objects.count(), ReturnLine.objects.count())

    response = send(admin_api, "post", URL, payload, key=new_key())

    assert response.status_code == 422, response.content
    problem = response.json()
    assert response["Content-Type"] == "application/problem+json"
    assert problem["type"].endswith("/validation")
    assert field in [error["field"] for error in problem["errors"]]
    assert (Return.objects.count(), ReturnLine.objects.count()) == before
    assert IdempotencyRecord.objects.count() == 0


def test_each_bad_field_gets_its_own_error(admin_api):
    body = _with("items.0.qty", 0)
    body["items"][1]["quality"] = "broken"
    body["source"] = "email"

    response = send(admin_api, "post", URL, body, key=new_key())

    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"source", "items[0].qty", "items[1].quality"}


def test_optional_fields_accept_null(admin_api):
    body = _with("comment", None)
    body["items"][1].update(reason_note=None, photos=None, imei=None, serial=None)

    response = send(admin_api, "post", URL, body, key=new_key())

    assert response.status_code == 201


def _count():
    return Return.objects.count(), ReturnLine.objects.count(), IdempotencyRecord.objects.count()


def test_malformed_json_is_400(admin_api):
    before = _count()

    response = send(admin_api, "post", URL, key=new_key(), raw='{"source": "warehouse",')

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert _count() == before


def test_a_json_array_body_is_422(admin_api):
    before = _count()

    response = send(admin_api, "post", URL, [VALID_BODY], key=new_key())

    assert response.status_code == 422
    assert _count() == before


@pytest.mark.parametrize("raw", ["null", "42", '"text"'])
def test_a_json_scalar_body_is_422(admin_api, raw):
    response = send(admin_api, "post", URL, key=new_key(), raw=raw)

    assert response.status_code == 422
    assert Return.objects.count() == 0


def test_a_text_plain_body_is_415(admin_api):
    before = _count()

    response = admin_api.post(URL, data=json.dumps(VALID_BODY), content_type="text/plain", HTTP_IDEMPOTENCY_KEY="k")

    assert response.status_code == 415
    assert response.json()["type"].endswith("/unsupported-media-type")
    assert _count() == before


def test_a_3_mb_body_is_413(admin_api):
    before = _count()
    body = _with("comment", "x" * (3 * 1024 * 1024))

    response = send(admin_api, "post", URL, body, key=new_key())

    assert response.status_code == 413
    assert response["Content-Type"] == "application/problem+json"
    assert _count() == before


def test_a_validation_error_on_put_leaves_the_return_unchanged(admin_api, make_return):
    target = make_return()

    response = send(admin_api, "put", f"{URL}/{target.return_id}", _with("items.0.qty", 1.5), key=new_key())

    assert response.status_code == 422
    assert [line.qty for line in target.lines.order_by("id")] == [1, 2]
