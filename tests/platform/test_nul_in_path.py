"""A NUL character in a URL path is 404, never a 500: PostgreSQL refuses NUL in any text it is asked about.

The API's own path checks are in tests/couriers/test_path_ids.py and the returns tests.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

# Admin pages of models whose primary key is text (an order's 1C id, a courier's id), and of a UUID key.
ADMIN_PATHS = [
    "/admin/couriers/order/%00/change/",
    "/admin/couriers/order/A%00B/history/",
    "/admin/couriers/order/%00/delete/",
    "/admin/returns/courier/%00/change/",
    "/admin/returns/courier/c%00/history/",
    "/admin/returns/return/%00/change/",
]


@pytest.mark.parametrize("path", ADMIN_PATHS)
def test_an_admin_page_for_an_id_with_a_nul_character_is_404(admin_client, path):
    response = admin_client.get(path)

    assert response.status_code == 404


def test_an_api_path_with_a_nul_character_still_asks_for_a_token_first(api_client):
    response = api_client.get("/api/v1/ww/orders/UT%00-1")

    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
