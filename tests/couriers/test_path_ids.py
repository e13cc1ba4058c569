"""Order and courier ids in the path: one no row can have is 404, without asking the database.

On PostgreSQL a NUL character in a query parameter is a DataError, not "no rows", so before the
check every route below answered 500 there (SQLite found nothing and answered 404).
"""

from __future__ import annotations

import pytest

from tests.couriers.conftest import send

pytestmark = pytest.mark.django_db

NUL_IN_PATH = [
    ("get", "/orders/UT%00-1", None),
    ("patch", "/orders/UT%00-1", {"title": "Новое название"}),
    ("post", "/orders/UT%00-1/assign", {"courier_id": "courier-001"}),
    ("patch", "/orders/UT%00-1/status", {"status": "REJECTED"}),
    ("get", "/orders/UT%00-1/logs", None),
    ("get", "/couriers/courier%00-001/stock", None),
    ("post", "/couriers/courier%00-001/stock/movements", {"kind": "load", "items": [{"sku": "LCD", "qty": 1}]}),
]


@pytest.mark.parametrize(("method", "path", "payload"), NUL_IN_PATH)
def test_a_nul_character_in_an_order_or_courier_id_is_404_naming_the_id(admin_api, courier, method, path, payload):
    response = send(admin_api, method, path, payload)

    assert response.status_code == 404, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert "\x00" in response.json()["detail"]
