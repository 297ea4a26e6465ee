"""Quote and equity sizing, limit orders with a timeout, pausing, tenant isolation, counters."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from kcgateway.gateway.apikeys import Scope
from tests.helpers.gateway import Stack, auth, gateway_stack
from tests.helpers.signals import add_paper_account, create_bot, send_standard

BUY = {"action": "buy", "symbol": "BTC-USDT"}


async def _log(stack: Stack, key: str, bot: dict[str, Any]) -> list[dict[str, Any]]:
    assert stack.services.signals is not None
    await stack.services.signals.executor.drain()
    rows: list[dict[str, Any]] = (
        await stack.http.get(f"/v1/signals?bot={bot['id']}", headers=auth(key))
    ).json()
    return rows


async def test_sizing_limit_style_pause_and_counters(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        await add_paper_account(stack, tenant)
        key = await stack.key(tenant, Scope.BOTS_MANAGE)
        price = Decimal(
            (await stack.sim_admin("GET", "/api/v1/market/orderbook/level1?symbol=BTC-USDT"))[
                "data"
            ]["price"]
            or "0"
        )
        quote = await create_bot(stack, key, "standard", sizing="quote", sizingValue="120")
        equity = await create_bot(stack, key, "standard", sizing="equity_pct", sizingValue="0.01")
        limit = await create_bot(
            stack, key, "standard", orderStyle="limit", limitOffsetPct="5", limitTimeoutS=1
        )
        for bot in (quote, equity, limit):
            assert (await send_standard(stack.http, bot, BUY)).status_code == 202
        plans = {b["name"]: (await _log(stack, key, b))[0] for b in (quote, equity, limit)}
        q = plans[quote["name"]]
        assert q["status"] == "done" and q["plan"]["type"] == "market"
        assert abs(Decimal(q["plan"]["size"]) * price - 120) < Decimal("0.01") * price
        e = plans[equity["name"]]  # 0.01% of 1,000,000 USDT = 100 USDT
        assert e["plan"], (e["status"], e["reason"])
        assert abs(Decimal(e["plan"]["size"]) * price - 100) < Decimal("0.01") * price
        lim = plans[limit["name"]]  # 5% under the market: rests, is cancelled, fills nothing
        assert lim["plan"], lim
        assert lim["plan"]["type"] == "limit" and Decimal(lim["plan"]["price"]) < price
        assert lim["status"] == "done", lim["reason"]
        assert lim["reason"].startswith("filled 0 of 0.001")
        view = (await stack.http.get(f"/v1/bots/{limit['id']}", headers=auth(key))).json()
        assert Decimal(view["positions"].get("BTC-USDT", "0")) == 0
        orders = (
            await stack.http.get("/v1/orders", headers=auth(await stack.key(tenant, Scope.READ)))
        ).json()
        assert [o["state"] for o in orders if o["id"] in lim["orders"]] == ["cancelled"]

        paused = await stack.http.post(f"/v1/bots/{quote['id']}/pause", headers=auth(key))
        assert paused.json()["state"] == "paused"
        held = await send_standard(stack.http, quote, BUY)
        assert held.status_code == 409 and "paused" in held.text

        other = await stack.add_tenant("t2")
        stranger = await stack.key(other, Scope.BOTS_MANAGE)
        assert (
            await stack.http.get(f"/v1/bots/{quote['id']}", headers=auth(stranger))
        ).status_code == 404
        assert (await stack.http.get("/v1/signals", headers=auth(stranger))).json() == []

        metrics = (await stack.http.get("/metrics")).text
        assert (
            'kcgateway_signals_received_total{profile="standard",verdict="accepted"} 3.0' in metrics
        )
        assert (
            'kcgateway_signals_received_total{profile="standard",verdict="paused"} 1.0' in metrics
        )
        assert 'kcgateway_signals_executed_total{outcome="done"} 3.0' in metrics
