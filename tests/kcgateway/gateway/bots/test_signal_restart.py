"""Signals accepted before a stop are executed exactly once after the restart.

Two ways to stop: right after the acknowledgements (nothing executed yet), and in the middle
of an execution (the order is at the exchange, the signal not finished). A fresh executor on
the same database (the next process) finishes both: every signal once, no second order, and
the paper account's BTC moved by exactly the bots' positions.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.bots.executor import SignalExecutor
from tests.helpers.gateway import Stack, auth, gateway_stack
from tests.helpers.signals import add_paper_account, create_bot, send_standard

SIGNALS = [
    {"action": "buy", "symbol": "BTC-USDT"},
    {"action": "buy", "symbol": "BTC-USDT"},
    {"action": "sell", "symbol": "BTC-USDT"},
    {"action": "buy", "symbol": "BTC-USDT"},
]


async def _btc(stack: Stack, key: str) -> Decimal:
    resp = await stack.http.get("/v1/balances?account=paper", headers=auth(key))
    return sum((Decimal(b["balance"]) for b in resp.json() if b["currency"] == "BTC"), Decimal(0))


def _fresh(old: SignalExecutor, stack: Stack) -> SignalExecutor:
    """The executor a restarted gateway builds over the same database and services."""
    s = stack.services
    return SignalExecutor(s.db, s.orders, s.venues, s.market, old._metrics, now=old._now)


async def test_signals_accepted_before_a_stop_run_once_after_restart(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        await add_paper_account(stack, tenant)
        key = await stack.key(tenant, Scope.BOTS_MANAGE, Scope.READ)
        idle, busy = [await create_bot(stack, key, "standard") for _ in range(2)]
        assert stack.services.signals is not None
        first = stack.services.signals.executor
        before = await _btc(stack, key)

        # busy: its first signal stops inside the execution, after the order was placed
        stuck = asyncio.Event()

        async def hang(*_: Any) -> Decimal:
            stuck.set()
            await asyncio.sleep(3600)
            return Decimal(0)

        first._filled = hang  # type: ignore[method-assign]
        assert (await send_standard(stack.http, busy, SIGNALS[0])).status_code == 202
        await asyncio.wait_for(stuck.wait(), 10)
        first.running = False  # idle: acknowledged, never started
        for body in SIGNALS:
            assert (await send_standard(stack.http, idle, body)).status_code == 202
        for body in SIGNALS[1:]:
            assert (await send_standard(stack.http, busy, body)).status_code == 202
        await first.aclose()  # the stop
        log = (await stack.http.get("/v1/signals", headers=auth(key))).json()
        assert sorted(s["status"] for s in log) == ["executing"] + ["queued"] * 7

        second = _fresh(first, stack)
        assert await second.resume() == 2
        await second.drain()
        log = (await stack.http.get("/v1/signals", headers=auth(key))).json()
        assert [s["status"] for s in log] == ["done"] * 8
        orders = (await stack.http.get("/v1/orders", headers=auth(key))).json()
        sent = [o["clientOid"] for o in orders if o["clientOid"].startswith("sig-")]
        assert len(sent) == len(set(sent)) == 8
        for bot in (idle, busy):
            view = (await stack.http.get(f"/v1/bots/{bot['id']}", headers=auth(key))).json()
            assert Decimal(view["positions"]["BTC-USDT"]) == Decimal("0.002")
        assert await _btc(stack, key) - before == Decimal("0.004"), "an order ran twice"
