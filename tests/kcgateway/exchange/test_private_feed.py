"""PrivateFeed against the simulator: orders() and balances() iterators, futures orders."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from decimal import Decimal

from kcgateway.exchange.private_feed import BalanceChange, OrderChange, PrivateFeed
from kcgateway.kucoin.retry import RetryPolicy
from kucoin_sim.config import SimConfig
from tests.integration.sim_client import client
from tests.kucoin_sim.harness import running_sim

FAST = RetryPolicy(max_attempts=1, base_ms=10, cap_ms=50)


async def _until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


async def test_orders_and_balances_iterators() -> None:
    async with running_sim(SimConfig(tick_ms=0)) as sim:
        account = await sim.account(hf=True)
        async with client(sim, account) as rest, PrivateFeed(rest, retry=FAST) as feed:
            orders = feed.orders()
            balances = feed.balances()
            first_order = asyncio.ensure_future(anext(orders))
            first_balance = asyncio.ensure_future(anext(balances))
            await _until(
                lambda: {"/spotMarket/tradeOrdersV2", "/account/balance"} <= feed.subscribed
            )
            oid = secrets.token_hex(8)
            body = {
                "clientOid": oid,
                "symbol": "BTC-USDT",
                "side": "buy",
                "type": "limit",
                "price": "1000",
                "size": "0.01",
            }
            await sim.ok(account, "POST", "/api/v1/hf/orders", body)
            change: OrderChange = await asyncio.wait_for(first_order, 5)
            balance: BalanceChange = await asyncio.wait_for(first_balance, 5)
            assert (change.client_oid, change.type, change.price) == (oid, "received", 1000)
            while not balance.hold_change:  # the deposit that funded the account may come first
                balance = await asyncio.wait_for(anext(balances), 5)
            # 1000 x 0.01 plus the 0.1% taker fee the order may pay
            assert (balance.currency, balance.hold_change) == ("USDT", Decimal("10.01"))
            await orders.aclose()
            await balances.aclose()


async def test_futures_orders_use_the_futures_topic() -> None:
    async with running_sim(SimConfig(tick_ms=0)) as sim:
        account = await sim.account()
        funding = {"uid": account["uid"], "accountType": "futures", "balances": {"USDT": "1000"}}
        await sim.admin("POST", "/_sim/fund", funding)
        got: list[OrderChange] = []
        async with (
            client(sim, account) as rest,
            PrivateFeed(rest, futures=True, retry=FAST) as feed,
        ):
            feed.on_order(got.append)
            await feed.start()
            await _until(lambda: "/contractMarket/tradeOrders" in feed.subscribed)
            body = {
                "clientOid": secrets.token_hex(8),
                "symbol": "XBTUSDTM",
                "side": "buy",
                "type": "limit",
                "price": "1000",
                "size": "1",
                "leverage": 5,
            }
            await sim.ok(account, "POST", "/api/v1/orders", body, futures=True)
            async with asyncio.timeout(30):
                while not got:
                    await asyncio.sleep(0.02)
        assert got[0].symbol == "XBTUSDTM"
