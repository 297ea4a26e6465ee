from __future__ import annotations

from tests.kucoin_sim.harness import running_sim


async def test_public_and_private_basics() -> None:
    async with running_sim() as sim:
        assert isinstance(await sim.ok(None, "GET", "/api/v1/timestamp"), int)
        acct = await sim.account()
        accounts = await sim.ok(acct, "GET", "/api/v1/accounts?type=trade")
        assert {a["currency"]: a["available"] for a in accounts}["USDT"] == "100000"
        order = await sim.ok(
            acct,
            "POST",
            "/api/v1/orders",
            {
                "clientOid": "c1",
                "side": "buy",
                "symbol": "BTC-USDT",
                "type": "limit",
                "price": "20000",
                "size": "0.001",
            },
        )
        got = await sim.ok(acct, "GET", f"/api/v1/orders/{order['orderId']}")
        assert got["isActive"] is True and got["price"] == "20000"
        state = await sim.admin("GET", "/_sim/orders?clientOid=c1")
        assert state["accepted"] == 1
