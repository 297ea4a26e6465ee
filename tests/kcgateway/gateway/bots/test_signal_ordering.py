"""Close/open pairs and reverses, jittered and interleaved across bots, never double a position.

Signals of one bot sent in order execute in order (one lane per (bot, symbol)), even while other
bots' signals interleave: every bot ends exactly where its signals say. Pairs sent with no order
at all (close and open racing) are held by the stated positions instead of doubling.
"""

from __future__ import annotations

import asyncio
import random
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
    tradingview_body,
)

UNIT = Decimal("0.001")
BOTS = 4
SIGNALS_PER_BOT = 36  # 144 in order, plus 56 racing below: 200 signals in make test
RACING_BOTS, RACING_PER_BOT = 4, 14
RNG = random.Random(17)


def script(n: int) -> tuple[list[dict[str, Any]], Decimal]:
    """``n`` signals cycling flat -> long -> (reverse) short -> flat -> short -> long -> flat."""
    cycle = [
        {"action": "buy", "prev_market_position": "flat", "market_position": "long"},
        {"action": "reverse", "prev_market_position": "long", "market_position": "short"},
        {"action": "close", "prev_market_position": "short", "market_position": "flat"},
        {"action": "sell", "prev_market_position": "flat", "market_position": "short"},
        {"action": "reverse", "prev_market_position": "short", "market_position": "long"},
        {"action": "close", "prev_market_position": "long", "market_position": "flat"},
    ]
    out = [dict(cycle[i % len(cycle)], symbol="BTC-USDT") for i in range(n)]
    final = {"long": UNIT, "short": -UNIT, "flat": Decimal(0)}[out[-1]["market_position"]]
    return out, final


async def _send(stack: Stack, bot: dict[str, Any], body: dict[str, Any], tv: Any) -> None:
    await asyncio.sleep(RNG.random() * 0.003)
    if bot["profile"] == "tradingview":
        resp = await send_tradingview(tv, bot, tradingview_body(bot["secret"], **body))
    else:
        resp = await send_standard(stack.http, bot, body)
    assert resp.status_code == 202, resp.text


async def _signals(stack: Stack, key: str, bot: dict[str, Any]) -> list[dict[str, Any]]:
    resp = await stack.http.get(f"/v1/signals?bot={bot['id']}&limit=500", headers=auth(key))
    rows: list[dict[str, Any]] = resp.json()
    return rows


def _targets(log: list[dict[str, Any]]) -> list[Decimal]:
    assert stack_plans_present(log)
    return [Decimal(s["plan"]["target"]) for s in log if s.get("plan")]


def stack_plans_present(log: list[dict[str, Any]]) -> bool:
    return all(s["status"] != "done" or s["orders"] for s in log)


async def _position(stack: Stack, key: str, bot: dict[str, Any]) -> Decimal:
    view = (await stack.http.get(f"/v1/bots/{bot['id']}", headers=auth(key))).json()
    return Decimal(view["positions"].get("BTC-USDT", "0"))


async def test_in_order_signals_of_many_bots_end_exactly_where_they_say(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        await add_paper_account(stack, tenant)
        key = await stack.key(tenant, Scope.BOTS_MANAGE)
        profiles = ["standard", "tradingview"] * (BOTS // 2)
        bots = [await create_bot(stack, key, p, maxPosition="0.01") for p in profiles]
        tv = stack.client(TV_IP)
        body, final = script(SIGNALS_PER_BOT)

        async def run(bot: dict[str, Any]) -> None:
            for one in body:  # each bot's signals in order, jittered, interleaved with others
                await _send(stack, bot, one, tv)

        await asyncio.gather(*(run(b) for b in bots))
        assert stack.services.signals is not None
        await stack.services.signals.executor.drain()
        await tv.aclose()
        for bot in bots:
            log = await _signals(stack, key, bot)
            bad = [
                (s["status"], s["reason"], s["plan"]) for s in log[::-1] if s["status"] != "done"
            ]
            assert [s["status"] for s in log] == ["done"] * SIGNALS_PER_BOT, (bad, log[::-1][:4])
            assert await _position(stack, key, bot) == final
            assert max(abs(t) for t in _targets(log)) == UNIT, "a position doubled"


async def test_racing_pairs_are_held_never_doubled(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        await add_paper_account(stack, tenant)
        key = await stack.key(tenant, Scope.BOTS_MANAGE, Scope.RISK_MANAGE)
        bots = [
            await create_bot(stack, key, "standard", maxPosition="0.01") for _ in range(RACING_BOTS)
        ]
        body, _ = script(RACING_PER_BOT)

        async def race(bot: dict[str, Any]) -> None:
            for i in range(0, len(body), 2):  # each close/open pair races: any order can arrive
                pair = [_send(stack, bot, body[i], None), _send(stack, bot, body[i + 1], None)]
                RNG.shuffle(pair)
                await asyncio.gather(*pair)

        await asyncio.gather(*(race(b) for b in bots))
        assert stack.services.signals is not None
        await stack.services.signals.executor.drain()
        held = 0
        for bot in bots:
            log = await _signals(stack, key, bot)
            assert {s["status"] for s in log} <= {"done", "held"}
            held += sum(s["status"] == "held" for s in log)
            targets = _targets(log)
            assert all(abs(t) <= UNIT for t in targets), "a position doubled"
            expected = targets[0] if targets else Decimal(0)  # the log is newest first
            assert await _position(stack, key, bot) == expected
        alerts = (await stack.http.get("/v1/alerts", headers=auth(key))).json()
        assert sum(a["kind"] == "signal.position_mismatch" for a in alerts) == held
