"""Margin and futures orders (and spot fills / cancel-all) through the HTTP API over the simulator.

Each market: place, get, list, cancel three ways (id, clientOid, all for a symbol), a lost
response resolved by clientOid to exactly one exchange order, and another tenant's objects 404.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from kcgateway.gateway.apikeys import Scope
from tests.helpers.gateway import (
    Stack,
    Tenant,
    auth,
    futures_body,
    gateway_stack,
    order_body,
    warm_risk,
)

MARKETS = {
    "margin": ("/v1/margin/orders", "BTC-USDT", "/api/v3/hf/margin/order"),
    "futures": ("/v1/futures/orders", "XBTUSDTM", "/api/v1/orders"),
}


def _body(market: str, account: str, **over: Any) -> dict[str, Any]:
    return order_body(account, **over) if market == "margin" else futures_body(account, **over)


async def _tenant(stack: Stack, name: str) -> Tenant:
    tenant = await stack.add_tenant(name)
    uid = tenant.sim_account["uid"]
    for account_type in ("margin", "futures"):
        await stack.sim_admin(
            "POST",
            "/_sim/fund",
            {"uid": uid, "accountType": account_type, "balances": {"USDT": "500000"}},
        )
    return tenant


async def _sim_orders(stack: Stack, client_oid: str) -> dict[str, Any]:
    data: dict[str, Any] = await stack.sim_admin("GET", f"/_sim/orders?clientOid={client_oid}")
    return data


async def _settle(stack: Stack, attempts: int = 60) -> None:
    for _ in range(attempts):
        if await stack.services.orders.reconcile() == 0:
            return
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("market", ["margin", "futures"])
async def test_place_get_list_and_cancel_three_ways(tmp_path: Path, market: str) -> None:
    base, symbol, _ = MARKETS[market]
    async with gateway_stack(tmp_path) as stack:
        tenant = await _tenant(stack, "t1")
        scope = Scope.TRADE_MARGIN if market == "margin" else Scope.TRADE_FUTURES
        h = auth(await stack.key(tenant, scope, Scope.READ))
        resp = await stack.http.post(base, json=_body(market, "main"), headers=h)
        assert resp.status_code == 201, resp.text
        placed = resp.json()
        assert placed["market"] == market and placed["state"] == "acked"
        assert placed["symbol"] == symbol
        if market == "margin":
            assert placed["marginMode"] == "cross" and placed["autoBorrow"] is False
        else:
            assert placed["size"] == "1" and placed["leverage"] == "5"
        at_sim = await _sim_orders(stack, placed["clientOid"])
        assert at_sim["accepted"] == 1
        if market == "margin":
            assert at_sim["orders"][0]["tradeType"] == "MARGIN_TRADE", "placed as margin"
        got = (await stack.http.get(f"{base}/{placed['id']}", headers=h)).json()
        assert got["state"] == "open" and got["exchangeOrderId"]
        listed = (await stack.http.get(base, headers=h)).json()
        assert [o["id"] for o in listed] == [placed["id"]]
        # the other market's list and the spot cancel route do not see it
        other = "/v1/futures/orders" if market == "margin" else "/v1/margin/orders"
        assert (await stack.http.get(other, headers=auth(tenant.admin_key))).json() == []
        resp = await stack.http.delete(f"/v1/orders/{placed['id']}", headers=auth(tenant.admin_key))
        assert resp.status_code == 404, "a trade:spot route never cancels another market's order"
        admin = auth(tenant.admin_key)
        assert (
            await stack.http.get(f"/v1/orders/{placed['id']}", headers=admin)
        ).status_code == 404
        assert (await stack.http.get("/v1/orders", headers=admin)).json() == [], "spot only"
        # 1. by id
        resp = await stack.http.delete(f"{base}/{placed['id']}", headers=h)
        assert resp.status_code == 200, resp.text
        assert resp.json()["state"] == "cancelled"
        assert (await _sim_orders(stack, placed["clientOid"]))["orders"][0]["active"] is False
        resp = await stack.http.delete(f"{base}/{placed['id']}", headers=h)
        assert resp.status_code == 409 and resp.json()["error"] == "not_cancellable"
        # 2. by clientOid
        body = _body(market, "main", clientOid=f"{market}-2")
        assert (await stack.http.post(base, json=body, headers=h)).status_code == 201
        resp = await stack.http.delete(f"{base}/by-client-oid/{market}-2", headers=h)
        assert resp.status_code == 200 and resp.json()["state"] == "cancelled"
        # 3. every order of the account on the symbol
        oids = [f"{market}-3", f"{market}-4"]
        for oid in oids:
            resp = await stack.http.post(base, json=_body(market, "main", clientOid=oid), headers=h)
            assert resp.status_code == 201, resp.text
        resp = await stack.http.delete(f"{base}?account=main&symbol={symbol}", headers=h)
        assert resp.status_code == 200, resp.text
        assert sorted(o["clientOid"] for o in resp.json()) == oids
        assert {o["state"] for o in resp.json()} == {"cancelled"}
        for oid in oids:
            assert (await _sim_orders(stack, oid))["orders"][0]["active"] is False
        states = {o["state"] for o in (await stack.http.get(base, headers=h)).json()}
        assert states == {"cancelled"}


@pytest.mark.parametrize("market", ["margin", "futures"])
async def test_lost_response_resolves_to_exactly_one_order(tmp_path: Path, market: str) -> None:
    base, _, exchange_path = MARKETS[market]
    async with gateway_stack(tmp_path, timeout_s=0.3, grace_s=0.5) as stack:
        tenant = await _tenant(stack, "t1")
        await warm_risk(stack, tenant.id, tenant.account_id)  # 0.3 s exchange timeout
        h = auth(tenant.admin_key)
        fault = {"kind": "lose_response", "pathPrefix": exchange_path, "method": "POST"}
        await stack.sim_admin("POST", "/_sim/faults", fault)
        resp = await stack.http.post(base, json=_body(market, "main"), headers=h)
        assert resp.status_code == 202, resp.text
        assert resp.json()["state"] == "unknown"
        await asyncio.sleep(0.7)  # past settle_after: the reconciler may look it up
        await _settle(stack)
        got = (await stack.http.get(f"{base}/{resp.json()['id']}", headers=h)).json()
        assert got["state"] == "open", "the order executed; the reconciler found it by clientOid"
        assert got["exchangeOrderId"]
        assert (await _sim_orders(stack, got["clientOid"]))["accepted"] == 1


@pytest.mark.parametrize("market", ["margin", "futures"])
async def test_a_request_that_never_arrived_becomes_not_placed(tmp_path: Path, market: str) -> None:
    base, _, exchange_path = MARKETS[market]
    async with gateway_stack(tmp_path, timeout_s=0.3, grace_s=0.5) as stack:
        tenant = await _tenant(stack, "t1")
        await warm_risk(stack, tenant.id, tenant.account_id)  # 0.3 s exchange timeout
        h = auth(tenant.admin_key)
        fault = {"kind": "error_5xx", "pathPrefix": exchange_path, "method": "POST", "count": 5}
        await stack.sim_admin("POST", "/_sim/faults", fault)
        resp = await stack.http.post(base, json=_body(market, "main"), headers=h)
        assert resp.status_code == 202, resp.text
        await asyncio.sleep(0.7)
        await _settle(stack)
        got = (await stack.http.get(f"{base}/{resp.json()['id']}", headers=h)).json()
        assert got["state"] == "not_placed"
        assert (await _sim_orders(stack, got["clientOid"]))["accepted"] == 0


async def test_another_tenants_market_objects_are_404(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        alice = await _tenant(stack, "alice")
        bob = await stack.add_tenant("bob")
        bob_h = auth(bob.admin_key)
        urls: list[tuple[str, str]] = []
        for market, (base, symbol, _) in MARKETS.items():
            resp = await stack.http.post(
                base, json=_body(market, "main"), headers=auth(alice.admin_key)
            )
            order = resp.json()
            urls += [
                ("GET", f"{base}/{order['id']}"),
                ("DELETE", f"{base}/{order['id']}"),
                ("DELETE", f"{base}/by-client-oid/{order['clientOid']}"),
                ("DELETE", f"{base}?account={alice.account_id}&symbol={symbol}"),
            ]
        a = alice.account_id
        urls += [
            ("DELETE", f"/v1/orders?account={a}&symbol=BTC-USDT"),
            ("GET", f"/v1/fills?account={a}&symbol=BTC-USDT"),
            ("GET", f"/v1/margin/fills?account={a}&symbol=BTC-USDT"),
            ("GET", f"/v1/margin/balances?account={a}"),
            ("GET", f"/v1/futures/fills?account={a}"),
            ("GET", f"/v1/futures/positions?account={a}"),
            ("GET", f"/v1/futures/balances?account={a}"),
        ]
        for method, url in urls:
            resp = await stack.http.request(method, url, headers=bob_h)
            assert resp.status_code == 404, (method, url, resp.text)
            assert resp.json()["error"] == "not_found"
        for market, (base, _, _) in MARKETS.items():
            resp = await stack.http.post(base, json=_body(market, a), headers=bob_h)
            assert resp.status_code == 404, market
            assert (await stack.http.get(base, headers=bob_h)).json() == []
        # alice's orders are untouched
        for base, _, _ in MARKETS.values():
            listed = (await stack.http.get(base, headers=auth(alice.admin_key))).json()
            assert [o["state"] for o in listed] == ["open"] or [o["state"] for o in listed] == [
                "acked"
            ]


async def test_fills_positions_balances_and_contracts(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await _tenant(stack, "t1")
        h = auth(tenant.admin_key)
        market_buy = {"type": "market", "price": None}
        # a futures market buy of 2 lots opens a long position
        resp = await stack.http.post(
            "/v1/futures/orders", json=futures_body("main", size=2, **market_buy), headers=h
        )
        assert resp.status_code == 201, resp.text
        positions = (await stack.http.get("/v1/futures/positions?account=main", headers=h)).json()
        xbt = next(p for p in positions if p["symbol"] == "XBTUSDTM")
        assert xbt["currentQty"] == "2" and xbt["isOpen"] is True
        fills = (await stack.http.get("/v1/futures/fills?account=main", headers=h)).json()
        assert sum(int(f["size"]) for f in fills) == 2
        assert {f["orderId"] for f in fills} == {resp.json()["exchangeOrderId"]}
        overview = (await stack.http.get("/v1/futures/balances?account=main", headers=h)).json()
        assert overview["currency"] == "USDT"
        assert float(overview["positionMargin"]) > 0  # compare only; money stays a string
        contracts = (await stack.http.get("/v1/futures/symbols", headers=h)).json()
        assert any(c["symbol"] == "XBTUSDTM" and c["multiplier"] for c in contracts)
        # a margin market buy fills from the margin account
        resp = await stack.http.post(
            "/v1/margin/orders",
            json=order_body("main", type="market", price=None, size=None, funds="100"),
            headers=h,
        )
        assert resp.status_code == 201, resp.text
        margin_fills = (
            await stack.http.get("/v1/margin/fills?account=main&symbol=BTC-USDT", headers=h)
        ).json()
        assert margin_fills and {f["orderId"] for f in margin_fills} == {
            resp.json()["exchangeOrderId"]
        }
        spot_fills = (
            await stack.http.get("/v1/fills?account=main&symbol=BTC-USDT", headers=h)
        ).json()
        assert spot_fills == [], "margin fills are not spot fills"
        balances = (await stack.http.get("/v1/margin/balances?account=main", headers=h)).json()
        btc = next(b for b in balances if b["currency"] == "BTC")
        assert float(btc["total"]) > 0, "the margin buy credited BTC to the margin account"
        # a spot market buy shows in the spot fills
        resp = await stack.http.post(
            "/v1/orders",
            json=order_body("main", type="market", price=None, size=None, funds="100"),
            headers=h,
        )
        assert resp.status_code == 201, resp.text
        spot_fills = (
            await stack.http.get("/v1/fills?account=main&symbol=BTC-USDT", headers=h)
        ).json()
        assert {f["orderId"] for f in spot_fills} == {resp.json()["exchangeOrderId"]}


async def test_spot_cancel_all_for_a_symbol(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1", hf=False)
        h = auth(tenant.admin_key)
        ids = []
        for oid in ("s1", "s2"):
            resp = await stack.http.post(
                "/v1/orders", json=order_body("main", clientOid=oid), headers=h
            )
            ids.append(resp.json()["id"])
        resp = await stack.http.delete("/v1/orders?account=main&symbol=BTC-USDT", headers=h)
        assert resp.status_code == 200, resp.text
        assert sorted(o["id"] for o in resp.json()) == sorted(ids)
        assert {o["state"] for o in resp.json()} == {"cancelled"}
        for oid in ("s1", "s2"):
            assert (await _sim_orders(stack, oid))["orders"][0]["active"] is False
        # classic spot fills
        resp = await stack.http.post(
            "/v1/orders",
            json=order_body("main", type="market", price=None, size=None, funds="100"),
            headers=h,
        )
        assert resp.status_code == 201, resp.text
        fills = (await stack.http.get("/v1/fills?account=main&symbol=BTC-USDT", headers=h)).json()
        assert fills and {f["orderId"] for f in fills} == {resp.json()["exchangeOrderId"]}


async def test_idempotency_key_per_market(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await _tenant(stack, "t1")
        headers = {**auth(tenant.admin_key), "Idempotency-Key": "same-key"}
        replies = {}
        for market, (base, _, _) in MARKETS.items():
            first = await stack.http.post(base, json=_body(market, "main"), headers=headers)
            again = await stack.http.post(base, json=_body(market, "main"), headers=headers)
            assert first.status_code == again.status_code == 201, first.text
            assert again.content == first.content
            assert again.headers["idempotent-replayed"] == "true"
            other = await stack.http.post(
                base, json=_body(market, "main", side="sell", price="90000"), headers=headers
            )
            assert other.status_code == 409, "the same key with another body"
            replies[market] = first.json()
            assert (await _sim_orders(stack, first.json()["clientOid"]))["accepted"] == 1
        # one key on two markets' routes: two orders, each in its own market
        assert replies["margin"]["clientOid"] != replies["futures"]["clientOid"]
        assert replies["margin"]["market"] == "margin"
        assert replies["futures"]["market"] == "futures"


async def test_invalid_market_orders_are_refused_before_anything_is_stored(
    tmp_path: Path,
) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await _tenant(stack, "t1")
        h = auth(tenant.admin_key)
        bad = [
            ("/v1/futures/orders", futures_body("main", size=0)),
            ("/v1/futures/orders", futures_body("main", size="1.5")),
            ("/v1/futures/orders", futures_body("main", funds="10")),
            ("/v1/futures/orders", futures_body("main", marginMode="cross")),
            ("/v1/futures/orders", futures_body("main", timeInForce="FOK")),
            ("/v1/margin/orders", order_body("main", marginMode="both")),
            ("/v1/margin/orders", order_body("main", leverage="3")),
            ("/v1/futures/orders", futures_body("main", type="limit", price=None)),
        ]
        for url, body in bad:
            resp = await stack.http.post(url, json=body, headers=h)
            assert resp.status_code in (400, 422), (body, resp.text)
            assert "error" in resp.json()
        for base, _, _ in MARKETS.values():
            assert (await stack.http.get(base, headers=h)).json() == []


async def test_strays_are_adopted_into_their_own_market(tmp_path: Path) -> None:
    from decimal import Decimal

    from kcgateway.exchange.rest import KuCoinClient
    from kcgateway.exchange.services.futures import FuturesOrderRequest
    from kcgateway.exchange.services.orders import SpotOrder
    from kcgateway.exchange.transport import AiohttpTransport
    from kcgateway.kucoin.signing import Credentials
    from kcgateway.secret import Secret

    async with gateway_stack(tmp_path) as stack:
        tenant = await _tenant(stack, "t1")
        h = auth(tenant.admin_key)
        await stack.http.post("/v1/orders", json=order_body("main"), headers=h)
        for market, (base, _, _) in MARKETS.items():
            resp = await stack.http.post(base, json=_body(market, "main"), headers=h)
            assert resp.status_code == 201, resp.text
        acct = tenant.sim_account
        creds = Credentials(acct["apiKey"], Secret(acct["secret"]), Secret(acct["passphrase"]))
        async with KuCoinClient(
            creds, transport=AiohttpTransport(), hosts=stack.sim.hosts
        ) as client:
            await client.margin.place(
                SpotOrder(
                    symbol="BTC-USDT",
                    side="buy",
                    order_type="limit",
                    price=Decimal(59000),
                    size=Decimal("0.001"),
                    client_oid="rogue-m",
                )
            )
            await client.futures.place(
                FuturesOrderRequest(
                    symbol="XBTUSDTM",
                    side="buy",
                    size=1,
                    price=Decimal(59000),
                    leverage=5,
                    client_oid="rogue-f",
                )
            )
        assert await stack.services.orders.adopt_all() == 2
        assert await stack.services.orders.adopt_all() == 0, "adopted once"
        spot = await stack.services.orders.list(tenant.id, market="spot")
        assert len(spot) == 1, "the spot scan adopts no margin or futures order as spot"
        for market, oid in (("margin", "rogue-m"), ("futures", "rogue-f")):
            listed = (await stack.http.get(MARKETS[market][0], headers=h)).json()
            rogue = [o for o in listed if o["clientOid"] == oid]
            assert len(rogue) == 1 and rogue[0]["state"] == "open", market
            assert rogue[0]["market"] == market and rogue[0]["exchangeOrderId"]
            # an adopted order is cancelled through its own market's endpoints
            resp = await stack.http.delete(f"{MARKETS[market][0]}/{rogue[0]['id']}", headers=h)
            assert resp.status_code == 200 and resp.json()["state"] == "cancelled", resp.text
            assert (await _sim_orders(stack, oid))["orders"][0]["active"] is False


async def test_futures_risk_check_counts_the_contract_value(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path, max_notional="100") as stack:
        tenant = await _tenant(stack, "t1")
        h = auth(tenant.admin_key)
        # XBTUSDTM: one lot is 0.001 XBT, so 1 lot at 60000 is worth 60 USDT, 2 lots 120
        resp = await stack.http.post("/v1/futures/orders", json=futures_body("main"), headers=h)
        assert resp.status_code == 201, resp.text
        resp = await stack.http.post(
            "/v1/futures/orders", json=futures_body("main", size=2), headers=h
        )
        assert resp.status_code == 422 and resp.json()["error"] == "risk_rejected", resp.text
        assert [f["code"] for f in resp.json()["failures"]] == ["risk.max_notional"], resp.text
        # a contract the exchange does not list: refused by the risk engine with that one
        # reason before any intent exists
        resp = await stack.http.post(
            "/v1/futures/orders", json=futures_body("main", symbol="NOPEUSDTM"), headers=h
        )
        assert resp.status_code == 422 and resp.json()["error"] == "risk_rejected", resp.text
        codes = [f["code"] for f in resp.json()["failures"]]
        assert codes == ["risk.unknown_symbol"], resp.text
        assert "not a futures contract" in resp.text, resp.text
        listed = (await stack.http.get("/v1/futures/orders", headers=h)).json()
        assert len(listed) == 1, "refused orders are not stored"
