"""Book and private feeds against the simulator over loopback, with faults on.

When the market stops, every local book must equal the simulator's book exactly (fingerprint
and full depth), through gaps, duplicates, delays, dropped connections and expired tokens; every
private order event the simulator emitted must arrive once, in order; 500 symbols spread over
connections below the 300-topic cap.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from kcgateway.exchange.book_feed import Book, BookFeed
from kcgateway.exchange.private_feed import OrderChange, PrivateFeed
from kcgateway.kucoin.orderbook import L2Synchronizer, parse_l2_snapshot
from kcgateway.kucoin.retry import RetryPolicy
from kucoin_sim.app import MARKET_MAKERS_KEY
from kucoin_sim.config import SimConfig
from kucoin_sim.engine.config import DEFAULT_SYMBOLS
from kucoin_sim.ws.routes import HUB_KEY
from kucoin_sim.ws.server import Hub
from tests.integration.sim_client import client
from tests.kucoin_sim.harness import Sim, running_sim

FAST = RetryPolicy(max_attempts=1, base_ms=10, cap_ms=50)


class Recorder:
    """A StreamMetrics that counts every hook."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def reconnected(self, reason: str) -> None:
        self.counts["reconnected"] += 1

    def gap(self, symbol: str) -> None:
        self.counts["gap"] += 1

    def resynced(self, symbol: str) -> None:
        self.counts["resynced"] += 1

    def lag(self, symbol: str, lag_ms: int) -> None:
        self.counts["lag"] += 1


async def _until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


def _levels(rows: Any) -> list[tuple[Decimal, Decimal]]:
    return [(Decimal(str(p)), Decimal(str(s))) for p, s in rows]


async def _stop_market(sim: Sim) -> Hub:
    task = sim.apps.spot[MARKET_MAKERS_KEY]
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    hub = sim.apps.spot[HUB_KEY]
    await hub.pump_once()
    return hub


async def _assert_equal(sim: Sim, feed: BookFeed, symbols: list[str]) -> None:
    engine = sim.apps.state.exchange
    await _until(lambda: all(feed.book(s).sequence == engine.book(s).sequence for s in symbols))
    for symbol in symbols:
        ours, theirs = feed.book(symbol), engine.book(symbol)
        bids, asks = ours.depth(10_000)
        assert _levels(bids) == _levels(theirs.bids), symbol
        assert _levels(asks) == _levels(theirs.asks), symbol
        assert len(bids) > 5 and len(asks) > 5
        path = "/api/v1/level2/snapshot" if feed.futures else "/api/v1/market/orderbook/level2_100"
        reference = L2Synchronizer(symbol)
        raw = await _get(sim, f"{path}?symbol={symbol}", futures=feed.futures)
        reference.receive_snapshot(parse_l2_snapshot(symbol, raw))
        assert ours.fingerprint() == reference.fingerprint(), symbol


async def _get(sim: Sim, path: str, *, futures: bool) -> bytes:
    base = sim.futures if futures else sim.spot
    async with sim.session.get(base + path) as resp:
        return await resp.read()


async def _fault(sim: Sim, **body: Any) -> None:
    await sim.admin("POST", "/_sim/ws/faults", body)


async def _storm(sim: Sim, topic: str, reconnects: Callable[[], int]) -> None:
    """Faults while the market makers tick: gaps, duplicates, delays, drops, token expiry."""
    for kind in ("skip", "duplicate", "delay", "skip"):
        await _fault(sim, kind=kind, topic=topic, count=2)
        await asyncio.sleep(0.3)
    before = reconnects()
    await _fault(sim, kind="drop")
    await _until(lambda: reconnects() > before)
    await asyncio.sleep(0.3)
    before = reconnects()
    await _fault(sim, kind="expireTokens")
    await _until(lambda: reconnects() > before)
    await asyncio.sleep(0.5)


async def _run_books(futures: bool, symbols: list[str]) -> None:
    async with running_sim(SimConfig(tick_ms=10)) as sim:
        account = await sim.account(hf=True)
        metrics = Recorder()
        hub = sim.apps.spot[HUB_KEY]
        hub.record = []
        async with (
            client(sim, account) as rest,
            BookFeed(rest, futures=futures, metrics=metrics, retry=FAST) as feed,
        ):
            changes: Counter[str] = Counter()

            def count(book: Book) -> None:
                changes[book.symbol] += 1

            feed.on_book(count)
            await feed.watch(*symbols)
            await _until(lambda: all(changes[s] > 5 for s in symbols))
            prefix = "/contractMarket/level2:" if futures else "/market/level2:"
            await _storm(sim, prefix + symbols[0], lambda: metrics.counts["reconnected"])
            await _stop_market(sim)
            await _assert_equal(sim, feed, symbols)
            topics = {prefix + s for s in symbols}
            updates = sum(_level_updates(m.data) for m in hub.record if m.topic in topics)
            assert updates > 2000
            assert metrics.counts["gap"] >= 1
            assert metrics.counts["reconnected"] >= 2
            assert metrics.counts["resynced"] >= 3 * len(symbols)
            assert metrics.counts["lag"] > 0


def _level_updates(data: dict[str, Any]) -> int:
    changes = data.get("changes")
    return len(changes["asks"]) + len(changes["bids"]) if changes else 1


async def test_spot_books_equal_the_sim_after_faults() -> None:
    await _run_books(False, ["BTC-USDT", "ETH-USDT"])


async def test_futures_books_equal_the_sim_after_faults() -> None:
    await _run_books(True, ["XBTUSDTM", "ETHUSDTM"])


async def test_books_iterator_yields_live_books() -> None:
    async with running_sim(SimConfig(tick_ms=10)) as sim:
        account = await sim.account(hf=True)
        async with client(sim, account) as rest, BookFeed(rest, retry=FAST) as feed:
            seen = []
            async for book in feed.books("BTC-USDT"):
                seen.append(book.sequence)
                if len(seen) == 20:
                    break
            assert seen == sorted(seen) and len(set(seen)) == 20


async def _place(sim: Sim, account: dict[str, Any], i: int) -> None:
    side = "buy" if i % 2 else "sell"
    price = "64000" if side == "buy" else "66000"
    if i % 5 == 0:  # crosses the market maker: fills
        price = "66000" if side == "buy" else "64000"
    body = {
        "clientOid": secrets.token_hex(8),
        "symbol": "BTC-USDT",
        "side": side,
        "type": "limit",
        "price": price,
        "size": "0.001",
    }
    data = await sim.ok(account, "POST", "/api/v1/hf/orders", body)
    if i % 3 == 0 and i % 5 != 0:  # rests: cancel it
        await sim.ok(account, "DELETE", f"/api/v1/hf/orders/{data['orderId']}?symbol=BTC-USDT")


async def test_every_private_order_event_arrives_once_in_order() -> None:
    async with running_sim(SimConfig(tick_ms=10)) as sim:
        account = await sim.account(hf=True)
        uid = str(account["uid"])
        hub = sim.apps.spot[HUB_KEY]
        hub.record = []
        got: list[OrderChange] = []
        async with client(sim, account) as rest, PrivateFeed(rest, retry=FAST) as feed:
            feed.on_order(got.append)
            await feed.start()
            await _until(lambda: "/spotMarket/tradeOrdersV2" in feed.subscribed)
            await _fault(sim, kind="duplicate", topic="/spotMarket/tradeOrdersV2", count=5)
            for i in range(150):
                await _place(sim, account, i)
            await _stop_market(sim)
            expected = [
                (m.data["orderId"], m.data["type"], Decimal(m.data["filledSize"]))
                for m in hub.record
                if m.topic == "/spotMarket/tradeOrdersV2" and m.uid == uid
            ]
            await _until(lambda: len(got) >= len(expected))
            await asyncio.sleep(0.1)
        assert len(expected) > 300
        assert [(c.order_id, c.type, c.filled_size) for c in got] == expected
        assert {c.type for c in got} >= {"received", "open", "match", "filled", "canceled"}


def _symbols(n: int) -> list[dict[str, Any]]:
    base = {
        k: v if isinstance(v, bool | int) else str(v)
        for k, v in dataclasses.asdict(DEFAULT_SYMBOLS[0]).items()
    }
    return [{**base, "symbol": f"C{i}-USDT", "base": f"C{i}"} for i in range(n)]


async def test_500_symbols_spread_over_connections() -> None:
    engine = {"symbols": _symbols(500), "contracts": [], "market_makers": []}
    async with running_sim(SimConfig(tick_ms=0, engine=engine)) as sim:
        account = await sim.account(hf=True)
        symbols = [f"C{i}-USDT" for i in range(500)]
        async with client(sim, account) as rest, BookFeed(rest, retry=FAST) as feed:
            await feed.watch(*symbols)
            await _until(lambda: all(feed.book(s).sequence is not None for s in symbols), 30)
            conns = feed.ws.connections
            assert [len(c.topics) for c in conns] == [250, 250]
            hub = sim.apps.spot[HUB_KEY]
            assert len(hub.connections) == 2
            assert {len(c.topics) for c in hub.connections} == {250}
