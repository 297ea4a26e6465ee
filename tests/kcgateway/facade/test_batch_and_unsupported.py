"""Batch orders through the facade (issue 14): ccxt's create_orders (spot and futures) and a
raw HF batch place each order through the gateway's order path, a risk denial being that
order's failMsg while the others go, and cancelling without a symbol cancels them all; trading
features the facade does not serve yet (stop, margin, leverage...) get KuCoin's 400100 with a
sentence saying so, never the exchange."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import ccxt
import pytest

from kcgateway.gateway.apikeys import Scope
from tests.helpers.facade import ccxt_kucoin, ccxt_kucoinfutures, facade_url, issue, signed
from tests.helpers.gateway import Stack, gateway_stack

SPOT = "BTC/USDT"
PERP = "BTC/USDT:USDT"


async def _accepted(stack: Stack, oid: str) -> int:
    found = await stack.sim_admin("GET", f"/_sim/orders?clientOid={oid}")
    return int(found["accepted"])


async def test_batches_place_each_order_through_the_gateway(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("bots")
        await stack.fund(tenant, "futures", {"USDT": "50000"})
        creds = await issue(stack, tenant, Scope.READ, Scope.TRADE_SPOT, Scope.TRADE_FUTURES)
        async with (
            facade_url(stack) as url,
            facade_url(stack, futures=True) as furl,
            aiohttp.ClientSession() as http,
        ):
            ex = ccxt_kucoin(url, creds)
            fx = ccxt_kucoinfutures(url, furl, creds)
            try:
                await ex.load_markets()
                bid = (await ex.fetch_order_book(SPOT))["bids"][0][0]
                low = round(bid * 0.9, 1)
                orders = [{"symbol": SPOT, "type": "limit", "side": "buy", "amount": a,
                           "price": low} for a in (0.001, 0.002)]  # fmt: skip
                # ccxt sends the HF batch (the account is HF); it reads the orders from
                # data.data, not from the list KuCoin's HF batch answers, so look them up
                await ex.create_orders(orders)
                resting = await ex.fetch_open_orders(SPOT)
                assert sorted(o["amount"] for o in resting) == [0.001, 0.002]
                # HF form, one order over the risk engine's notional limit
                body = {"orderList": [
                    {"clientOid": "hf-ok", "symbol": "BTC-USDT", "side": "buy", "type": "limit",
                     "price": str(low), "size": "0.001"},
                    {"clientOid": "hf-big", "symbol": "BTC-USDT", "side": "buy", "type": "limit",
                     "price": str(low), "size": "100"},
                    {"clientOid": "hf-bad", "side": "buy", "type": "limit", "size": "1"},
                ]}  # fmt: skip
                status, answer, _ = await signed(
                    http, url, creds, "POST", "/api/v1/hf/orders/multi", body
                )
                assert (status, answer["code"]) == (200, "200000")
                ok, big, bad = answer["data"]
                assert ok["success"] is True and ok["clientOid"] == "hf-ok" and ok["orderId"]
                assert (big["success"], big["clientOid"]) == (False, "hf-big")
                assert big["failMsg"].startswith("Forbidden to place an order: ")
                assert "risk.max_notional" in big["failMsg"]
                assert (bad["success"], bad["failMsg"]) == (False, "symbol is required")
                status, answer, _ = await signed(
                    http, url, creds, "POST", "/api/v1/hf/orders/multi", {"orderList": []}
                )
                assert (status, answer["code"]) == (400, "400100")
                assert "1 to 20 orders" in answer["msg"]

                await fx.load_markets()
                fbid = (await fx.fetch_order_book(PERP))["bids"][0][0]
                futures = [{"symbol": PERP, "type": "limit", "side": "buy", "amount": 1,
                            "price": round(fbid * 0.9, 1), "params": {"leverage": 5}}
                           for _ in range(2)]  # fmt: skip
                placed = await fx.create_orders(futures)
                assert len(placed) == 2 and all(o["id"] for o in placed)
                # cancel everything, no symbol given (HF cancelAll; futures without a symbol)
                await ex.cancel_all_orders()
                await fx.cancel_all_orders()
                assert await ex.fetch_open_orders(SPOT) == []
                assert await fx.fetch_open_orders(PERP) == []
            finally:
                await ex.close()
                await fx.close()
        orders = stack.services.orders
        spot = await orders.list(tenant.id, market="spot")
        oids = {v.client_oid for v in spot}
        assert len(spot) == 3 and "hf-ok" in oids and "hf-big" not in oids
        futures_views = await orders.list(tenant.id, market="futures")
        assert {v.exchange_order_id for v in futures_views} == {o["id"] for o in placed}
        for view in spot + futures_views:  # exactly one exchange order per intent, same clientOid
            assert await _accepted(stack, view.client_oid) == 1
            assert view.state.value == "cancelled"
        assert await _accepted(stack, "hf-big") == 0


async def _refused(call: Any, match: str) -> None:
    with pytest.raises(ccxt.BadRequest, match=match):
        await call


async def test_features_not_served_yet_are_refused_in_kucoins_shape(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("bots")
        creds = await issue(stack, tenant, Scope.READ, Scope.TRADE_SPOT, Scope.TRADE_FUTURES)
        async with (
            facade_url(stack) as url,
            facade_url(stack, futures=True) as furl,
            aiohttp.ClientSession() as http,
        ):
            ex = ccxt_kucoin(url, creds)
            fx = ccxt_kucoinfutures(url, furl, creds)
            try:
                await ex.load_markets()
                await fx.load_markets()
                not_yet = "not supported by the KuCoin facade yet"
                stop = ex.create_order(SPOT, "limit", "buy", 0.001, 1000, {"triggerPrice": 900})
                await _refused(stop, "stop orders are " + not_yet)
                margin = ex.create_order(SPOT, "limit", "buy", 0.001, 1000, {"marginMode": "cross"})
                await _refused(margin, "margin orders are " + not_yet)
                await _refused(fx.set_leverage(10, PERP), "changing the leverage is " + not_yet)
                await _refused(fx.set_margin_mode("cross", PERP), "the margin mode is " + not_yet)
            finally:
                await ex.close()
                await fx.close()
            # unauthenticated, it is KuCoin's missing-header refusal like any private path
            async with http.post(f"{furl}/api/v2/changeCrossUserLeverage") as resp:
                assert resp.status == 401 and (await resp.json())["code"] == "400001"
            status, answer, _ = await signed(http, url, creds, "DELETE", "/api/v1/stop-order/x1")
            assert (status, answer["code"]) == (400, "400100")
        assert await stack.services.orders.list(tenant.id) == []
