"""WW-11 under real concurrency: racing sales of the last items never drive the stock below zero."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from couriers import services
from couriers.models import CourierStock, StockMovement
from returns.models import Courier

THREADS = 20
STOCK = 5


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_sales_of_five_items_sell_exactly_five(live_server, make_token):
    Courier.objects.create(courier_id="courier-001", display_name="Иван Петров")
    services.stock_move(
        courier_id="courier-001",
        kind="load",
        actor=services.Actor(role="1c", subject="1c-main"),
        items=[{"sku": "LCD-IP13", "qty": STOCK}],
    )
    token = make_token("courier", "courier-001")
    url = f"{live_server.url}/api/v1/ww/couriers/courier-001/stock/movements"
    start = threading.Barrier(THREADS)

    def sell(_: int) -> requests.Response:
        with requests.Session() as session:
            session.get(live_server.url + "/health", timeout=60).raise_for_status()
            start.wait(timeout=30)
            return session.post(
                url,
                json={"kind": "sale", "items": [{"sku": "LCD-IP13", "qty": 1}]},
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())},
                timeout=60,
            )

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        statuses = sorted(response.status_code for response in pool.map(sell, range(THREADS)))

    assert statuses == [201] * STOCK + [409] * (THREADS - STOCK)
    assert CourierStock.objects.get().qty == 0
    assert StockMovement.objects.filter(kind="sale").count() == STOCK
