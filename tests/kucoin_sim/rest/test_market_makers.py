"""The background task steps the market makers, so books move and marketable orders fill."""

from __future__ import annotations

import asyncio

from kucoin_sim.config import SimConfig
from tests.kucoin_sim.harness import running_sim


async def test_market_makers_tick_in_the_background() -> None:
    async with running_sim(SimConfig(tick_ms=20)) as sim:
        first = await sim.ok(None, "GET", "/api/v1/market/orderbook/level2_20?symbol=BTC-USDT")
        assert first["bids"] and first["asks"]
        await asyncio.sleep(0.3)
        later = await sim.ok(None, "GET", "/api/v1/market/orderbook/level2_20?symbol=BTC-USDT")
        assert int(later["sequence"]) > int(first["sequence"])
        acct = await sim.account()
        order = await sim.ok(acct, "POST", "/api/v1/orders", {"clientOid": "mkt", "side": "buy",
                             "symbol": "BTC-USDT", "type": "market", "funds": "100"})  # fmt: skip
        got = await sim.ok(acct, "GET", f"/api/v1/orders/{order['orderId']}")
        assert got["isActive"] is False and got["dealSize"] != "0"
