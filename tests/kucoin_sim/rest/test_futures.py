"""Futures host shapes: JSON numbers, lots, positions with PnL, margin mode, leverage, overview."""

from __future__ import annotations

from typing import Any

from kucoin_sim.config import SimConfig
from tests.kucoin_sim.harness import Sim, running_sim


def _order(
    oid: str, side: str, price: float | None = None, size: int = 1, **kw: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "clientOid": oid,
        "side": side,
        "symbol": "XBTUSDTM",
        "leverage": 5,
        "size": size,
        **kw,
    }
    if price is None:
        body["type"] = "market"
    else:
        body.update(type="limit", price=str(price))
    return body


async def _funded(sim: Sim) -> dict[str, Any]:
    acct = await sim.account()
    await sim.admin(
        "POST",
        "/_sim/fund",
        {"uid": acct["uid"], "accountType": "futures", "balances": {"USDT": "100000"}},
    )
    return acct


async def test_futures_market_data() -> None:
    async with running_sim(SimConfig(tick_ms=0)) as sim:
        contracts = await sim.ok(None, "GET", "/api/v1/contracts/active", futures=True)
        xbt = next(c for c in contracts if c["symbol"] == "XBTUSDTM")
        assert xbt["multiplier"] == 0.001 and xbt["status"] == "Open" and xbt["markPrice"] > 0
        one = await sim.ok(None, "GET", "/api/v1/contracts/XBTUSDTM", futures=True)
        assert one["tickSize"] == 0.1
        _, body, _ = await sim.call(None, "GET", "/api/v1/contracts/NOPE", futures=True)
        assert body["code"] == "900001"
        ticker = await sim.ok(None, "GET", "/api/v1/ticker?symbol=XBTUSDTM", futures=True)
        assert isinstance(ticker["bestBidSize"], int) and ticker["ts"] > 10**18
        depth = await sim.ok(None, "GET", "/api/v1/level2/depth20?symbol=XBTUSDTM", futures=True)
        assert len(depth["bids"]) <= 20 and isinstance(depth["bids"][0][0], float | int)
        snap = await sim.ok(None, "GET", "/api/v1/level2/snapshot?symbol=XBTUSDTM", futures=True)
        assert len(snap["asks"]) >= len(depth["asks"])
        assert await sim.ok(None, "GET", "/api/v1/level2/depth100?symbol=XBTUSDTM", futures=True)
        klines = await sim.ok(
            None, "GET", "/api/v1/kline/query?symbol=XBTUSDTM&granularity=1", futures=True
        )
        assert isinstance(klines, list)
        _, body, _ = await sim.call(
            None, "GET", "/api/v1/kline/query?symbol=XBTUSDTM&granularity=7", futures=True
        )
        assert body["code"] == "400100"


async def test_futures_orders_positions_and_settings() -> None:
    async with running_sim(SimConfig(tick_ms=0)) as sim:
        acct = await _funded(sim)
        mode = await sim.ok(
            acct, "GET", "/api/v2/position/getMarginMode?symbol=XBTUSDTM", futures=True
        )
        assert mode == {"symbol": "XBTUSDTM", "marginMode": "ISOLATED"}
        changed = await sim.ok(
            acct,
            "POST",
            "/api/v2/position/changeMarginMode",
            {"symbol": "XBTUSDTM", "marginMode": "CROSS"},
            futures=True,
        )
        assert changed["marginMode"] == "CROSS"
        assert (
            await sim.ok(
                acct,
                "POST",
                "/api/v2/changeCrossUserLeverage",
                {"symbol": "XBTUSDTM", "leverage": "10"},
                futures=True,
            )
            is True
        )
        lev = await sim.ok(
            acct, "GET", "/api/v2/getCrossUserLeverage?symbol=XBTUSDTM", futures=True
        )
        assert lev["leverage"] == "10"
        assert (await sim.ok(acct, "GET", "/api/v2/position/getPositionMode", futures=True)) == {
            "positionMode": 0
        }
        test = await sim.ok(
            acct, "POST", "/api/v1/orders/test", _order("t", "buy", 1000.0), futures=True
        )
        assert test["clientOid"] == "t"
        resting = await sim.ok(
            acct, "POST", "/api/v1/orders", _order("r1", "buy", 1000.0), futures=True
        )
        listed = await sim.ok(acct, "GET", "/api/v1/orders?status=active", futures=True)
        assert listed["items"][0]["id"] == resting["orderId"] and listed["items"][0]["size"] == 1
        got = await sim.ok(acct, "GET", "/api/v1/orders/byClientOid?clientOid=r1", futures=True)
        assert got["id"] == resting["orderId"] and got["isActive"] is True
        assert await sim.ok(
            acct, "DELETE", "/api/v1/orders/client-order/r1?symbol=XBTUSDTM", futures=True
        ) == {"clientOid": "r1"}
        batch = await sim.ok(
            acct,
            "POST",
            "/api/v1/orders/multi",
            [_order("b1", "buy", 1000.0), {"side": "nope"}],
            futures=True,
        )
        assert [b["code"] for b in batch] == ["200000", "400100"]
        cancelled = await sim.ok(
            acct,
            "DELETE",
            "/api/v1/orders/multi-cancel",
            {"orderIdsList": [batch[0]["orderId"], "missing"]},
            futures=True,
        )
        assert cancelled[0]["code"] == "200" and cancelled[1]["code"] != "200"
        await sim.ok(acct, "POST", "/api/v1/orders", _order("m1", "buy", size=3), futures=True)
        position = await sim.ok(acct, "GET", "/api/v1/position?symbol=XBTUSDTM", futures=True)
        assert position["currentQty"] == 3 and position["isOpen"] is True
        assert position["marginMode"] == "CROSS" and position["markPrice"] > 0
        assert len(await sim.ok(acct, "GET", "/api/v1/positions", futures=True)) == 1
        fills = await sim.ok(acct, "GET", "/api/v1/fills?symbol=XBTUSDTM", futures=True)
        assert fills["items"] and fills["items"][0]["liquidity"] == "taker"
        assert await sim.ok(acct, "GET", "/api/v1/recentFills", futures=True)
        assert await sim.ok(acct, "GET", "/api/v1/recentDoneOrders", futures=True)
        overview = await sim.ok(acct, "GET", "/api/v1/account-overview?currency=USDT", futures=True)
        assert overview["currency"] == "USDT" and overview["positionMargin"] > 0
        assert (await sim.ok(acct, "GET", "/api/v1/stopOrders", futures=True))["items"] == []
        assert (await sim.ok(acct, "GET", "/api/v1/history-positions", futures=True))["items"] == []
        await sim.ok(acct, "POST", "/api/v1/orders", _order("r2", "buy", 1000.0), futures=True)
        gone = await sim.ok(acct, "DELETE", "/api/v3/orders?symbol=XBTUSDTM", futures=True)
        assert len(gone["cancelledOrderIds"]) == 1
        _, body, _ = await sim.call(acct, "GET", "/api/v1/orders/nope", futures=True)
        assert body["code"] == "100001"
