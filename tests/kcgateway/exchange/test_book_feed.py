"""BookFeed edge cases against the simulator: snapshot failures, stray messages, iterators."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiohttp

from kcgateway.exchange.book_feed import BookFeed
from kcgateway.kucoin.orderbook import SyncState
from kcgateway.kucoin.retry import RetryPolicy
from kcgateway.kucoin.ws_session import DataMessage
from kucoin_sim.config import SimConfig
from tests.integration.sim_client import client
from tests.kucoin_sim.harness import running_sim

FAST = RetryPolicy(max_attempts=1, base_ms=10, cap_ms=50)
ONE_TRY = RetryPolicy(max_attempts=1)


async def _until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


async def test_failed_snapshots_are_retried_until_the_book_is_live() -> None:
    async with running_sim(SimConfig(tick_ms=0)) as sim:
        account = await sim.account(hf=True)
        fault = {"kind": "error_5xx", "pathPrefix": "/api/v3/market/orderbook/level2", "count": 3}
        await sim.admin("POST", "/_sim/faults", fault)
        async with (
            client(sim, account, retry=ONE_TRY) as rest,
            BookFeed(rest, retry=FAST) as feed,
        ):
            await feed.watch("BTC-USDT", "BTC-USDT")
            await _until(lambda: feed.book("BTC-USDT").state is SyncState.LIVE)
            assert feed.snapshots == 1
            assert feed.book("BTC-USDT").best_bid() is not None


async def test_stray_and_unreadable_messages_are_ignored() -> None:
    async with running_sim(SimConfig(tick_ms=0)) as sim:
        account = await sim.account(hf=True)
        async with client(sim, account) as rest, BookFeed(rest, retry=FAST) as feed:
            await feed.watch("BTC-USDT")
            await _until(lambda: feed.book("BTC-USDT").state is SyncState.LIVE)
            seq = feed.book("BTC-USDT").sequence
            conn = feed.ws.connections[0]
            for msg in (
                DataMessage("/market/level2:BTC-USDT", "trade.l2update", b"{}"),
                DataMessage("/market/ticker:BTC-USDT", "trade.ticker", b"{}"),
                DataMessage("/market/level2:ZZZ-USDT", "trade.l2update", _delta("ZZZ-USDT")),
                DataMessage("/contractMarket/level2:ZZZ", "level2", b'{"sequence":1}'),
            ):
                conn._on_message(msg)
            assert feed.book("BTC-USDT").sequence == seq


def _delta(symbol: str) -> bytes:
    return (
        b'{"symbol":"' + symbol.encode() + b'","sequenceStart":1,"sequenceEnd":1,'
        b'"changes":{"asks":[],"bids":[]}}'
    )


async def test_books_iterator_yields_futures_books_with_a_caller_session() -> None:
    async with (
        running_sim(SimConfig(tick_ms=10)) as sim,
        client(sim, None) as rest,
        aiohttp.ClientSession() as http,
    ):
        async with BookFeed(rest, futures=True, http=http, retry=FAST) as feed:
            count = 0
            async for book in feed.books("XBTUSDTM"):
                assert book.state is SyncState.LIVE
                count += 1
                if count == 5:
                    break
        assert not http.closed  # the caller's session outlives the feed
