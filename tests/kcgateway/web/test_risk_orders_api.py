"""Orders through the risk engine over HTTP: the collar on market orders, and the amended IOC.

Fails on main: no engine in the order path (a market order walking the book through the
collar is sent as it is, and there is no failures list).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.helpers.gateway import auth, gateway_stack, order_body, stack_limits

#: a collar of 0.05%: a market buy of 0.2 BTC walks four 0.05 BTC ask levels 0.05% apart
TIGHT = {"price_collar_pct": Decimal("0.05")}


def _market_buy(size: str) -> dict[str, Any]:
    body = order_body("main", type="market", size=size)
    del body["price"]
    return body


async def test_a_market_order_through_the_collar_is_refused_with_its_code(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path, tick_ms=0, risk_limits=stack_limits(**TIGHT)) as stack:
        tenant = await stack.add_tenant("t1")
        h = auth(tenant.admin_key)
        resp = await stack.http.post("/v1/orders", json=_market_buy("0.2"), headers=h)
        assert resp.status_code == 422, resp.text
        body = resp.json()
        assert body["error"] == "risk_rejected"
        assert [f["code"] for f in body["failures"]] == ["risk.price_collar"], body
        assert "risk.price_collar" in body["message"]
        assert (await stack.http.get("/v1/orders", headers=h)).json() == [], "nothing stored"
        # a small one stays within the first level: allowed and sent as a market order
        resp = await stack.http.post("/v1/orders", json=_market_buy("0.01"), headers=h)
        assert resp.status_code == 201, resp.text
        assert resp.json()["type"] == "market"


async def test_an_opted_in_market_order_is_sent_as_an_ioc_limit_at_the_collar(
    tmp_path: Path,
) -> None:
    limits = stack_limits(**TIGHT, market_to_ioc=True)
    async with gateway_stack(tmp_path, tick_ms=0, risk_limits=limits) as stack:
        tenant = await stack.add_tenant("t1")
        h = auth(tenant.admin_key)
        resp = await stack.http.post("/v1/orders", json=_market_buy("0.2"), headers=h)
        assert resp.status_code == 201, resp.text
        placed = resp.json()
        assert placed["type"] == "limit" and placed["size"] == "0.2", placed
        price = Decimal(placed["price"])
        # at the exchange: an IOC limit at the collar, which took only the levels within it
        (order,) = (await stack.sim_admin("GET", f"/_sim/orders?clientOid={placed['clientOid']}"))[
            "orders"
        ]
        assert order["type"] == "limit" and order["timeInForce"] == "IOC", order
        assert Decimal(order["price"]) == price
        assert Decimal(0) < Decimal(order["dealSize"]) < Decimal("0.2"), order
        assert order["active"] is False
