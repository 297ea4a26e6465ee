"""HF margin order queries and cancels, and the separation of spot, margin and futures lists."""

from __future__ import annotations

from typing import Any

from kucoin_sim.config import SimConfig
from tests.kucoin_sim.harness import Sim, running_sim

NO_MM: dict[str, Any] = {"market_makers": []}
MARGIN = "/api/v3/hf/margin"


def _order(oid: str, side: str = "buy", price: str = "20000") -> dict[str, Any]:
    return {
        "clientOid": oid,
        "side": side,
        "symbol": "BTC-USDT",
        "type": "limit",
        "price": price,
        "size": "0.001",
    }


async def _margin_account(sim: Sim, hf: bool = True) -> dict[str, Any]:
    acct = await sim.account(hf=hf)
    await sim.admin(
        "POST",
        "/_sim/fund",
        {"uid": acct["uid"], "accountType": "margin", "balances": {"USDT": "10000", "BTC": "1"}},
    )
    return acct


async def test_margin_orders_by_client_oid_lists_fills_and_cancels() -> None:
    async with running_sim(SimConfig(tick_ms=0, engine=NO_MM)) as sim:
        acct = await _margin_account(sim)
        placed = await sim.ok(acct, "POST", f"{MARGIN}/order", _order("m1"))
        q = "symbol=BTC-USDT"
        got = await sim.ok(acct, "GET", f"{MARGIN}/orders/client-order/m1?{q}")
        assert got["id"] == placed["orderId"] and got["active"] is True
        assert got["tradeType"] == "MARGIN_TRADE"
        assert (await sim.ok(acct, "GET", f"{MARGIN}/orders/{placed['orderId']}?{q}"))["id"]
        active = await sim.ok(acct, "GET", f"{MARGIN}/orders/active?{q}&tradeType=MARGIN_TRADE")
        assert [o["clientOid"] for o in active] == ["m1"]
        # the margin order is not a spot HF order
        assert await sim.ok(acct, "GET", f"/api/v1/hf/orders/active?{q}") == []
        gone = await sim.ok(acct, "DELETE", f"{MARGIN}/orders/client-order/m1?{q}")
        assert gone == {"clientOid": "m1"}
        done = await sim.ok(acct, "GET", f"{MARGIN}/orders/done?{q}")
        assert [o["clientOid"] for o in done["items"]] == ["m1"]
        assert done["items"][0]["cancelExist"] is True
        await sim.ok(acct, "POST", f"{MARGIN}/order", _order("m2"))
        await sim.ok(acct, "POST", f"{MARGIN}/order", _order("m3"))
        assert await sim.ok(acct, "DELETE", f"{MARGIN}/orders?{q}&tradeType=MARGIN_TRADE") == (
            "success"
        )
        assert await sim.ok(acct, "GET", f"{MARGIN}/orders/active?{q}") == []
        for path in (f"{MARGIN}/orders/client-order/nope?{q}", f"{MARGIN}/orders/nope?{q}"):
            _, body, _ = await sim.call(acct, "GET", path)
            assert body["code"] == "126043", path
        _, body, _ = await sim.call(acct, "DELETE", f"{MARGIN}/orders/client-order/m1?{q}")
        assert body["code"] != "200000", "a done order cannot be cancelled again"
        _, body, _ = await sim.call(acct, "GET", f"{MARGIN}/orders/active")
        assert body["code"] != "200000", "symbol is required"


async def test_margin_fills_and_spot_orders_stay_apart() -> None:
    async with running_sim(SimConfig(tick_ms=0, engine=NO_MM)) as sim:
        maker = await sim.account(hf=True)
        taker = await _margin_account(sim)
        await sim.ok(maker, "POST", "/api/v1/hf/orders", _order("s1", "sell", "21000"))
        await sim.ok(taker, "POST", f"{MARGIN}/order", _order("t1", "buy", "21000"))
        await sim.ok(taker, "POST", "/api/v1/hf/orders", _order("s2", "buy", "100"))
        fills = await sim.ok(taker, "GET", f"{MARGIN}/fills?symbol=BTC-USDT")
        assert len(fills["items"]) == 1 and fills["items"][0]["liquidity"] == "taker"
        assert (await sim.ok(taker, "GET", "/api/v1/hf/fills?symbol=BTC-USDT"))["items"] == []
        spot = await sim.ok(taker, "GET", "/api/v1/hf/orders/active?symbol=BTC-USDT")
        assert [o["clientOid"] for o in spot] == ["s2"]
        # a spot order's clientOid is not a margin order
        _, body, _ = await sim.call(
            taker, "GET", f"{MARGIN}/orders/client-order/s2?symbol=BTC-USDT"
        )
        assert body["code"] == "126043"


async def test_classic_lists_split_spot_and_margin_by_trade_type() -> None:
    async with running_sim(SimConfig(tick_ms=0, engine=NO_MM)) as sim:
        acct = await _margin_account(sim, hf=False)
        await sim.ok(acct, "POST", "/api/v1/orders", _order("c1"))
        await sim.ok(acct, "POST", f"{MARGIN}/order", _order("c2"))
        spot = await sim.ok(acct, "GET", "/api/v1/orders?status=active")
        assert [o["clientOid"] for o in spot["items"]] == ["c1"]
        margin = await sim.ok(acct, "GET", "/api/v1/orders?status=active&tradeType=MARGIN_TRADE")
        assert [o["clientOid"] for o in margin["items"]] == ["c2"]
