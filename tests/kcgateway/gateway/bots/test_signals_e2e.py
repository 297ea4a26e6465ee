"""Each profile drives a paper bot and, after promotion, a live bot end to end."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from kcgateway.gateway.apikeys import Scope
from tests.helpers.gateway import Stack, auth, gateway_stack
from tests.helpers.signals import (
    TV_IP,
    add_paper_account,
    create_bot,
    send_standard,
    send_tradingview,
    threecommas_body,
    tradingview_body,
)


async def _drain(stack: Stack) -> None:
    assert stack.services.signals is not None
    await stack.services.signals.executor.drain()


async def _bot(stack: Stack, key: str, bot_id: str) -> dict[str, Any]:
    resp = await stack.http.get(f"/v1/bots/{bot_id}", headers=auth(key))
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()
    return data


async def _intents(stack: Stack, key: str, account: str) -> list[dict[str, Any]]:
    resp = await stack.http.get("/v1/orders", headers=auth(key))
    assert resp.status_code == 200, resp.text
    return [o for o in resp.json() if o["clientOid"].startswith("sig-") and o["account"] == account]


async def test_each_profile_drives_a_paper_then_a_live_bot(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        paper_id = await add_paper_account(stack, tenant)
        key = await stack.key(tenant, Scope.BOTS_MANAGE, Scope.READ)
        std = await create_bot(stack, key, "standard")
        tv = await create_bot(stack, key, "tradingview")
        tc = await create_bot(stack, key, "3commas")
        tv_client = stack.client(TV_IP)
        for mode, account in (("paper", paper_id), ("live", tenant.account_id)):
            acks = [
                await send_standard(stack.http, std, {"action": "buy", "symbol": "BTC-USDT"}),
                await send_tradingview(tv_client, tv, tradingview_body(tv["secret"], "buy")),
                await stack.http.post(
                    f"/v1/signals/{tc['id']}",
                    json=threecommas_body(tc["secret"], tc["id"], "enter_long"),
                ),
            ]
            assert [a.status_code for a in acks] == [202, 202, 202], [a.text for a in acks]
            await _drain(stack)
            for bot in (std, tv, tc):
                view = await _bot(stack, key, bot["id"])
                assert view["mode"] == mode
                assert Decimal(view["positions"]["BTC-USDT"]) == Decimal("0.001")
            placed = await _intents(stack, key, account)
            assert len(placed) == 3 and {o["side"] for o in placed} == {"buy"}
            if mode == "paper":
                for bot in (std, tv, tc):
                    resp = await stack.http.post(f"/v1/bots/{bot['id']}/promote", headers=auth(key))
                    assert resp.status_code == 200 and resp.json()["mode"] == "live"
        log = await stack.http.get("/v1/signals", headers=auth(key))
        assert log.status_code == 200
        assert [s["status"] for s in log.json()] == ["done"] * 6
        await tv_client.aclose()
