"""Over REST, a pruned order answers like an unknown one and recent history is still served."""

from __future__ import annotations

import secrets

from kucoin_sim.config import SimConfig
from tests.kucoin_sim.harness import running_sim

CONFIG = SimConfig(tick_ms=0, engine={"retention": {"done_orders": 3, "fills": 3}})


async def test_pruned_orders_are_unknown_and_recent_ones_are_served() -> None:
    async with running_sim(CONFIG) as sim:
        acct = await sim.account(hf=True)
        oids = [secrets.token_hex(8) for _ in range(6)]
        ids = []
        for oid in oids:  # market buys fill against the market maker at once: done orders
            body = {"clientOid": oid, "symbol": "BTC-USDT", "side": "buy", "type": "market",
                    "size": "0.001"}  # fmt: skip
            ids.append((await sim.ok(acct, "POST", "/api/v1/hf/orders", body))["orderId"])
        status, data, _ = await sim.call(acct, "GET", f"/api/v1/hf/orders/{ids[0]}?symbol=BTC-USDT")
        assert (status, data["code"]) == (400, "126043")  # as for an order that never existed
        never = await sim.call(acct, "GET", "/api/v1/hf/orders/" + "0" * 24 + "?symbol=BTC-USDT")
        assert (never[0], never[1]["code"]) == (status, data["code"])
        path = f"/api/v1/hf/orders/client-order/{oids[0]}?symbol=BTC-USDT"
        status, data, _ = await sim.call(acct, "GET", path)
        assert data["code"] == "126043"
        latest = await sim.ok(acct, "GET", f"/api/v1/hf/orders/{ids[-1]}?symbol=BTC-USDT")
        assert latest["id"] == ids[-1] and latest["active"] is False
        done = await sim.ok(acct, "GET", "/api/v1/hf/orders/done?symbol=BTC-USDT")
        assert [o["id"] for o in done["items"]] == ids[:2:-1]  # the newest three, newest first
        fills = await sim.ok(acct, "GET", "/api/v1/hf/fills?symbol=BTC-USDT")
        assert len(fills["items"]) == 3
