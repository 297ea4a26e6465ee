"""Shapes of market data, order lists (page and cursor pagination), stop orders and margin."""

from __future__ import annotations

from typing import Any

from kucoin_sim.config import SimConfig
from tests.kucoin_sim.harness import Sim, running_sim

NO_MM = {"market_makers": []}


def _order(i: int, side: str = "buy", price: str = "20000", **kw: Any) -> dict[str, Any]:
    return {
        "clientOid": f"o{i}",
        "side": side,
        "symbol": "BTC-USDT",
        "type": "limit",
        "price": price,
        "size": "0.001",
        **kw,
    }


async def _trade(sim: Sim, hf: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    maker, taker = await sim.account(hf=hf), await sim.account(hf=hf)
    base = "/api/v1/hf/orders" if hf else "/api/v1/orders"
    await sim.ok(maker, "POST", base, _order(1, "sell", "21000"))
    await sim.ok(taker, "POST", base, _order(2, "buy", "21000"))
    return maker, taker


async def test_market_data_shapes() -> None:
    async with running_sim(SimConfig(tick_ms=0, engine=NO_MM)) as sim:
        await _trade(sim)
        symbols = await sim.ok(None, "GET", "/api/v2/symbols")
        btc = next(s for s in symbols if s["symbol"] == "BTC-USDT")
        assert btc["priceIncrement"] == "0.1" and btc["feeCategory"] == 1
        assert (await sim.ok(None, "GET", "/api/v2/symbols/BTC-USDT"))["baseCurrency"] == "BTC"
        _, body, _ = await sim.call(None, "GET", "/api/v2/symbols/NOPE-USDT")
        assert body["code"] == "900001"
        currencies = await sim.ok(None, "GET", "/api/v3/currencies")
        assert "USDT" in {c["currency"] for c in currencies}
        assert (await sim.ok(None, "GET", "/api/v3/currencies/BTC"))["currency"] == "BTC"
        stats = await sim.ok(None, "GET", "/api/v1/market/stats?symbol=BTC-USDT")
        assert stats["last"] == "21000" and stats["vol"] == "0.001"
        tickers = await sim.ok(None, "GET", "/api/v1/market/allTickers")
        assert {"takerFeeRate", "makerFeeRate"} <= set(tickers["ticker"][0])
        level1 = await sim.ok(None, "GET", "/api/v1/market/orderbook/level1?symbol=BTC-USDT")
        assert level1["price"] == "21000"
        trades = await sim.ok(None, "GET", "/api/v1/market/histories?symbol=BTC-USDT")
        assert trades[0]["price"] == "21000" and trades[0]["side"] == "buy"
        candles = await sim.ok(None, "GET", "/api/v1/market/candles?symbol=BTC-USDT&type=1min")
        assert len(candles) == 1 and candles[0][1:5] == ["21000"] * 4
        _, body, _ = await sim.call(None, "GET", "/api/v1/market/candles?symbol=BTC-USDT&type=2min")
        assert body["code"] == "400100"
        prices = await sim.ok(None, "GET", "/api/v1/prices?currencies=BTC,USDT")
        assert prices == {"BTC": "21000", "USDT": "1"}
        assert "USDS" in await sim.ok(None, "GET", "/api/v1/markets")


async def test_classic_lists_fills_and_cancel_by_client_oid() -> None:
    async with running_sim(SimConfig(tick_ms=0, engine=NO_MM)) as sim:
        maker, taker = await _trade(sim)
        fills = await sim.ok(taker, "GET", "/api/v1/fills?symbol=BTC-USDT")
        assert fills["totalNum"] == 1 and fills["items"][0]["liquidity"] == "taker"
        assert (await sim.ok(maker, "GET", "/api/v1/limit/fills"))[0]["liquidity"] == "maker"
        for i in range(3, 8):
            await sim.ok(maker, "POST", "/api/v1/orders", _order(i, price="19000"))
        page = await sim.ok(maker, "GET", "/api/v1/orders?status=active&pageSize=2&currentPage=2")
        assert (page["totalNum"], page["totalPage"], len(page["items"])) == (5, 3, 2)
        got = await sim.ok(maker, "GET", "/api/v1/order/client-order/o3")
        assert got["clientOid"] == "o3" and got["isActive"] is True
        cancelled = await sim.ok(maker, "DELETE", "/api/v1/order/client-order/o3")
        assert cancelled["clientOid"] == "o3"
        _, body, _ = await sim.call(maker, "DELETE", "/api/v1/order/client-order/o3")
        assert body["code"] == "400100"
        rest = await sim.ok(maker, "DELETE", "/api/v1/orders?symbol=BTC-USDT")
        assert len(rest["cancelledOrderIds"]) == 4
        test = await sim.ok(maker, "POST", "/api/v1/orders/test", _order(99))
        assert (
            test["orderId"]
            and (await sim.admin("GET", "/_sim/orders?clientOid=o99"))["accepted"] == 0
        )
        batch = await sim.ok(
            maker,
            "POST",
            "/api/v1/orders/multi",
            {"symbol": "BTC-USDT", "orderList": [_order(10), {"side": "x"}]},
        )
        assert [i["success"] for i in batch["data"]] == [True, False]
        assert len(await sim.ok(maker, "GET", "/api/v1/limit/orders")) >= 7


async def test_hf_cursor_pagination_sync_and_batch() -> None:
    async with running_sim(SimConfig(tick_ms=0, engine=NO_MM)) as sim:
        acct = await sim.account(hf=True)
        ids = []
        for i in range(5):
            placed = await sim.ok(acct, "POST", "/api/v1/hf/orders/sync", _order(i, price="19000"))
            assert placed["status"] == "open"
            ids.append(placed["orderId"])
        for order_id in ids:
            await sim.ok(
                acct, "DELETE", f"/api/v1/hf/orders/{order_id}?symbol=BTC-USDT&orderId={order_id}"
            )
        first = await sim.ok(acct, "GET", "/api/v1/hf/orders/done?symbol=BTC-USDT&limit=2")
        assert len(first["items"]) == 2 and isinstance(first["lastId"], int)
        second = await sim.ok(
            acct, "GET", f"/api/v1/hf/orders/done?symbol=BTC-USDT&limit=2&lastId={first['lastId']}"
        )
        seen = {o["id"] for o in first["items"]} | {o["id"] for o in second["items"]}
        assert len(seen) == 4
        batch = await sim.ok(
            acct,
            "POST",
            "/api/v1/hf/orders/multi",
            {"orderList": [_order(20, price="19000"), _order(21, price="19000")]},
        )
        assert all(b["success"] for b in batch)
        active = await sim.ok(acct, "GET", "/api/v1/hf/orders/active?symbol=BTC-USDT")
        assert len(active) == 2
        paged = await sim.ok(
            acct, "GET", "/api/v1/hf/orders/active/page?symbol=BTC-USDT&pageSize=1"
        )
        assert paged["totalNum"] == 2 and len(paged["items"]) == 1
        assert (await sim.ok(acct, "GET", "/api/v1/hf/orders/active/symbols"))["symbols"] == [
            "BTC-USDT"
        ]
        got = await sim.ok(acct, "GET", "/api/v1/hf/orders/client-order/o20?symbol=BTC-USDT")
        alter = await sim.ok(
            acct,
            "POST",
            "/api/v1/hf/orders/alter",
            {"symbol": "BTC-USDT", "orderId": got["id"], "newPrice": "18000"},
        )
        assert alter["newOrderId"] != got["id"] and alter["clientOid"] == "o20"
        moved = await sim.ok(
            acct, "GET", f"/api/v1/hf/orders/{alter['newOrderId']}?symbol=BTC-USDT"
        )
        assert moved["price"] == "18000" and moved["active"] is True
        assert await sim.ok(acct, "DELETE", "/api/v1/hf/orders?symbol=BTC-USDT") == "success"
        everything = await sim.ok(acct, "DELETE", "/api/v1/hf/orders/cancelAll")
        assert everything == {"succeedSymbols": [], "failedSymbols": []}
        _, body, _ = await sim.call(acct, "GET", "/api/v1/hf/orders/nope?symbol=BTC-USDT")
        assert body["code"] == "126043"


async def test_stop_orders_and_margin() -> None:
    async with running_sim(SimConfig(tick_ms=0, engine=NO_MM)) as sim:
        acct = await sim.account()
        stop = await sim.ok(
            acct,
            "POST",
            "/api/v1/stop-order",
            {**_order(1, "sell", "15000"), "stop": "loss", "stopPrice": "16000"},
        )
        listed = await sim.ok(acct, "GET", "/api/v1/stop-order?symbol=BTC-USDT")
        assert listed["items"][0]["id"] == stop["orderId"] and listed["items"][0]["status"] == "NEW"
        assert (await sim.ok(acct, "GET", f"/api/v1/stop-order/{stop['orderId']}"))[
            "stopPrice"
        ] == "16000"
        by_oid = await sim.ok(acct, "GET", "/api/v1/stop-order/queryOrderByClientOid?clientOid=o1")
        assert by_oid[0]["id"] == stop["orderId"]
        done = await sim.ok(acct, "DELETE", "/api/v1/stop-order/cancel?symbol=BTC-USDT")
        assert done["cancelledOrderIds"] == [stop["orderId"]]
        margin = await sim.ok(acct, "GET", "/api/v3/margin/symbols")
        assert margin["items"][0]["symbol"]
        assert (await sim.ok(acct, "GET", "/api/v1/isolated/symbols"))[0]["maxLeverage"] == 10
        await sim.ok(
            acct,
            "POST",
            "/api/v2/accounts/inner-transfer",
            {
                "clientOid": "x",
                "currency": "USDT",
                "from": "trade",
                "to": "margin",
                "amount": "500",
            },
        )
        accounts = await sim.ok(acct, "GET", "/api/v3/margin/accounts")
        assert accounts["accounts"][0]["available"] == "500"
        placed = await sim.ok(acct, "POST", "/api/v3/hf/margin/order", _order(5, price="100"))
        await sim.ok(
            acct, "DELETE", f"/api/v3/hf/margin/orders/{placed['orderId']}?symbol=BTC-USDT"
        )
        _, body, _ = await sim.call(
            acct,
            "POST",
            "/api/v2/accounts/inner-transfer",
            {
                "clientOid": "y",
                "currency": "USDT",
                "from": "trade",
                "to": "margin",
                "amount": "1e12",
            },
        )
        assert body["code"] == "200004"


async def test_ledgers_partial_cancel_and_test_orders_apply_rules() -> None:
    async with running_sim(SimConfig(tick_ms=0, engine=NO_MM)) as sim:
        acct = await sim.account(hf=True)
        ledger = await sim.ok(acct, "GET", "/api/v1/accounts/ledgers?currency=USDT")
        assert isinstance(ledger["items"], list)
        placed = await sim.ok(
            acct, "POST", "/api/v1/hf/orders", {**_order(1, price="19000"), "size": "0.002"}
        )
        target = f"/api/v1/hf/orders/cancel/{placed['orderId']}?symbol=BTC-USDT&cancelSize=0.001"
        part = await sim.ok(acct, "DELETE", target)
        assert part == {"orderId": placed["orderId"], "cancelSize": "0.001"}
        got = await sim.ok(acct, "GET", f"/api/v1/hf/orders/{placed['orderId']}?symbol=BTC-USDT")
        assert got["remainSize"] == "0.001"
        _, body, _ = await sim.call(
            acct, "POST", "/api/v1/hf/orders/test", {**_order(2), "price": "20000.05"}
        )
        assert body["code"] == "400100"  # the price increment is checked without placing


async def test_account_detail_transfers_and_more_cancels() -> None:
    async with running_sim(SimConfig(tick_ms=0, engine=NO_MM)) as sim:
        acct = await sim.account(permissions=["General", "Spot", "Transfer"])
        accounts = await sim.ok(acct, "GET", "/api/v1/accounts?currency=USDT")
        detail = await sim.ok(acct, "GET", f"/api/v1/accounts/{accounts[0]['id']}")
        assert detail == {k: accounts[0][k] for k in ("currency", "balance", "available", "holds")}
        other = await sim.account()
        _, body, _ = await sim.call(other, "GET", f"/api/v1/accounts/{accounts[0]['id']}")
        assert body["code"] == "400100"  # someone else's account
        moved = await sim.ok(
            acct,
            "POST",
            "/api/v3/accounts/universal-transfer",
            {
                "clientOid": "u1",
                "type": "INTERNAL",
                "currency": "USDT",
                "amount": "10",
                "fromAccountType": "TRADE",
                "toAccountType": "MAIN",
            },
        )
        assert moved["orderId"]
        main = await sim.ok(acct, "GET", "/api/v1/accounts?type=main")
        assert main[0]["balance"] == "10"
        _, body, _ = await sim.call(
            acct,
            "POST",
            "/api/v3/accounts/universal-transfer",
            {
                "clientOid": "u2",
                "type": "EXTERNAL",
                "currency": "USDT",
                "amount": "1",
                "fromAccountType": "MAIN",
                "toAccountType": "TRADE",
            },
        )
        assert body["code"] == "400100"
        _, body, _ = await sim.call(other, "POST", "/api/v3/accounts/universal-transfer", {})
        assert body["code"] == "400007"  # no Transfer permission by default
        hf = await sim.account(hf=True)
        a = await sim.ok(hf, "POST", "/api/v1/hf/orders", _order(1, price="19000"))
        await sim.ok(hf, "POST", "/api/v1/hf/orders", _order(2, price="19000"))
        sync = await sim.ok(hf, "DELETE", f"/api/v1/hf/orders/sync/{a['orderId']}?symbol=BTC-USDT")
        assert sync["status"] == "done"
        by_oid = await sim.ok(
            hf, "DELETE", "/api/v1/hf/orders/sync/client-order/o2?symbol=BTC-USDT"
        )
        assert by_oid["status"] == "done"
        _, body, _ = await sim.call(
            hf, "DELETE", "/api/v1/hf/orders/client-order/o2?symbol=BTC-USDT"
        )
        assert body["code"] == "126043"
        stop = await sim.ok(
            acct, "POST", "/api/v1/stop-order", {**_order(9, "sell", "15000"), "stopPrice": "16000"}
        )
        await sim.ok(
            acct,
            "POST",
            "/api/v1/stop-order",
            {**_order(10, "sell", "15000"), "stopPrice": "16000"},
        )
        done = await sim.ok(
            acct, "DELETE", "/api/v1/stop-order/cancelOrderByClientOid?clientOid=o9&symbol=BTC-USDT"
        )
        assert done["cancelledOrderId"] == stop["orderId"]
        left = await sim.ok(acct, "GET", "/api/v1/stop-order")
        assert left["totalNum"] == 1
        await sim.ok(acct, "DELETE", f"/api/v1/stop-order/{left['items'][0]['id']}")
        _, body, _ = await sim.call(acct, "GET", f"/api/v1/stop-order/{stop['orderId']}x")
        assert body["code"] == "400100"
