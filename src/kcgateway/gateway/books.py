"""Order books for the API: the live stream book when it is synced, a REST snapshot otherwise.

::

    books = BookService(market_client)                    # spot; futures=True for contracts
    view = await books.book("BTC-USDT", depth=20)        # view.source: "stream" | "rest"

The first request for a symbol starts watching it on a :class:`~kcgateway.exchange.book_feed.
BookFeed` (lazily) and is answered from REST; once the feed's book is live, requests are
answered from it. When the connection is lost, every book counts as down (REST answers)
until it is rebuilt from a snapshot after the resubscription; all watched symbols share one
connection (``max_symbols`` is at most the per-connection topic budget), so a loss reported by
the feed's :class:`~kcgateway.exchange.ws.StreamMetrics` hooks, which the service receives and
passes on, concerns every book. At most ``max_symbols`` symbols are watched: a symbol not
asked for during ``idle_ms`` is unwatched (unsubscribed), and when the limit is reached the
least recently asked one makes room. An unknown symbol (not in the exchange's symbol list,
refreshed every ``symbols_ttl_ms``) raises :class:`~kcgateway.errors.NoSuchObject`
before any feed work.

Where the spot snapshot comes from (a decision): the gateway has no market-data credential, and
KuCoin's full spot book (``GET /api/v3/market/orderbook/level2``) is signed. Borrowing a tenant's
key for public data would spend that tenant's rate budget, so spot books are rebuilt from the
PUBLIC ``GET /api/v1/market/orderbook/level2_100`` snapshot. That snapshot is partial: when a
side holds 100 levels, levels past its 100th price ("the floor") are unknown, and deltas only
reveal those that change later. The served top ``depth`` levels of a side are therefore exact
only while they all lie at or inside that floor (or the snapshot held the whole side); otherwise
the request is answered from REST and the book is rebuilt from a new snapshot. Futures use the
public full snapshot (``GET /api/v1/level2/snapshot``), which is always exact.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from kcgateway.clock import Clock, SystemClock
from kcgateway.errors import NoSuchObject
from kcgateway.exchange.book_feed import Book, BookFeed
from kcgateway.exchange.rest import KuCoinClient
from kcgateway.exchange.ws import DEFAULT_MAX_TOPICS, NoMetrics, StreamMetrics
from kcgateway.kucoin import models as m
from kcgateway.kucoin.orderbook import SyncState
from kcgateway.tasks import stop_task

__all__ = ["MAX_DEPTH", "BookService", "BookView"]

log = logging.getLogger("kcgateway.gateway.books")

#: the deepest book the API serves (the public REST snapshots hold 100 levels per side)
MAX_DEPTH = 100
_PARTIAL = 100  # levels per side in a level2_100 snapshot
Level = tuple[Decimal, Decimal]
FeedFactory = Callable[..., BookFeed]


@dataclass(frozen=True, slots=True)
class BookView:
    """The best ``depth`` levels of a book, where they came from, and how fresh they are.

    ``timestamp`` is in ms: for a stream book, the local time of its last change; for a REST
    book, the exchange's time of the snapshot.
    """

    symbol: str
    source: Literal["stream", "rest"]
    sequence: int
    timestamp: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


@dataclass(frozen=True, slots=True)
class _Floors:
    """The worst price of each side of a partial snapshot (None: the side was complete)."""

    bid: Decimal | None
    ask: Decimal | None


def _floor(levels: Sequence[Level]) -> Decimal | None:
    return levels[-1][0] if len(levels) >= _PARTIAL else None


def _exact(levels: list[tuple[str, str]], depth: int, floor: Decimal | None, sign: int) -> bool:
    """True when the top ``depth`` levels of a side are all known (see the module docstring)."""
    if floor is None:
        return True
    if len(levels) < depth:
        return False
    return sign * (Decimal(levels[depth - 1][0]) - floor) >= 0


def _decimals(levels: list[tuple[str, str]]) -> tuple[Level, ...]:
    return tuple((Decimal(p), Decimal(s)) for p, s in levels)


class BookService:
    """Stream-first order books with a REST fallback (see the module docstring)."""

    def __init__(
        self,
        client: KuCoinClient,
        *,
        futures: bool = False,
        clock: Clock | None = None,
        metrics: StreamMetrics | None = None,
        max_symbols: int = 50,
        idle_ms: int = 300_000,
        symbols_ttl_ms: int = 300_000,
        feed_factory: FeedFactory = BookFeed,
    ) -> None:
        self.futures = futures
        self.max_symbols = max_symbols
        self.idle_ms = idle_ms
        self._client = client
        self._clock = clock or SystemClock()
        self._symbols_ttl_ms = symbols_ttl_ms
        if not 1 <= max_symbols <= DEFAULT_MAX_TOPICS:
            raise ValueError(f"max_symbols must be in 1..{DEFAULT_MAX_TOPICS} (one connection)")
        source = None if futures else self._partial_snapshot
        self._metrics = metrics or NoMetrics()
        self.feed = feed_factory(
            client, futures=futures, clock=self._clock, metrics=self, snapshot_source=source
        )
        self.feed.on_book(self._changed)
        self._known: frozenset[str] = frozenset()
        self._known_at: int | None = None
        self._last_used: dict[str, int] = {}
        self._changed_at: dict[str, int] = {}
        self._floors: dict[str, _Floors] = {}
        self._stale: set[str] = set()
        self._lock = asyncio.Lock()
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def watched(self) -> list[str]:
        """The symbols being kept live, least recently asked first."""
        return sorted(self._last_used, key=self._last_used.__getitem__)

    async def book(self, symbol: str, depth: int) -> BookView:
        """The best ``depth`` levels of ``symbol``: from the stream when exact, else REST."""
        if not 1 <= depth <= MAX_DEPTH:
            raise ValueError(f"depth must be in 1..{MAX_DEPTH}")
        await self._check_symbol(symbol)
        await self._watch(symbol)
        view = self._from_stream(symbol, depth)
        return view if view is not None else await self._from_rest(symbol, depth)

    def start(self) -> None:
        """Start unwatching idle symbols in the background (also done on every request)."""
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())

    async def aclose(self) -> None:
        """Stop the sweeper and close the feed."""
        task, self._sweeper = self._sweeper, None
        await stop_task(task)
        await self.feed.aclose()

    # -- symbols and watching --------------------------------------------------------------------

    async def _check_symbol(self, symbol: str) -> None:
        now = self._clock.now_ms()
        stale = self._known_at is None or now - self._known_at >= self._symbols_ttl_ms
        if stale:
            if self.futures:
                names = [c.symbol for c in await self._client.futures.contracts()]
            else:
                names = [s.symbol for s in await self._client.market.symbols()]
            self._known, self._known_at = frozenset(names), now
        if symbol not in self._known:
            raise NoSuchObject("symbol")

    async def _watch(self, symbol: str) -> None:
        async with self._lock:
            now = self._clock.now_ms()
            if symbol not in self._last_used:
                await self._sweep(now)
                while len(self._last_used) >= self.max_symbols:
                    await self._unwatch(self.watched[0])
                await self.feed.watch(symbol)
            self._last_used[symbol] = now

    async def sweep(self) -> list[str]:
        """Unwatch the symbols nobody asked for during ``idle_ms``; returns them."""
        async with self._lock:
            return await self._sweep(self._clock.now_ms())

    async def _sweep(self, now: int) -> list[str]:
        idle = [s for s, used in self._last_used.items() if now - used >= self.idle_ms]
        for symbol in idle:
            await self._unwatch(symbol)
        return idle

    async def _unwatch(self, symbol: str) -> None:
        del self._last_used[symbol]
        self._changed_at.pop(symbol, None)
        self._floors.pop(symbol, None)
        self._stale.discard(symbol)
        await self.feed.unwatch(symbol)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(max(self.idle_ms / 2000, 0.05))
            try:
                await self.sweep()
            except Exception:  # a failed unsubscribe must not end the sweeping
                log.exception("book sweep failed")

    # -- the feed's StreamMetrics: passed on, and "down" tracked ---------------------------------

    def reconnected(self, reason: str) -> None:
        """The connection (all symbols share one) was lost: no book is current until rebuilt."""
        self._stale.update(self._last_used)
        self._metrics.reconnected(reason)

    def gap(self, symbol: str) -> None:
        """Passed on (the synchroniser already discarded the book)."""
        self._metrics.gap(symbol)

    def resynced(self, symbol: str) -> None:
        """Rebuilt from a snapshot after the (re)subscription: current again."""
        self._stale.discard(symbol)
        self._metrics.resynced(symbol)

    def lag(self, symbol: str, lag_ms: int) -> None:
        """Passed on."""
        self._metrics.lag(symbol, lag_ms)

    # -- answers ---------------------------------------------------------------------------------

    def _changed(self, book: Book) -> None:
        self._changed_at[book.symbol] = self._clock.now_ms()

    def _from_stream(self, symbol: str, depth: int) -> BookView | None:
        try:
            book = self.feed.book(symbol)
        except KeyError:  # made room for another symbol meanwhile (max_symbols reached)
            return None
        stale = symbol in self._stale
        if stale or book.state is not SyncState.LIVE or book.sequence is None:
            return None
        bids, asks = book.depth(depth)
        floors = self._floors.get(symbol, _Floors(None, None))
        if not (_exact(bids, depth, floors.bid, 1) and _exact(asks, depth, floors.ask, -1)):
            log.info("partial book too thin, rebuilding", extra={"symbol": symbol})
            self.feed.resync(symbol)
            return None
        stamp = self._changed_at.get(symbol, self._clock.now_ms())
        return BookView(symbol, "stream", book.sequence, stamp, _decimals(bids), _decimals(asks))

    async def _from_rest(self, symbol: str, depth: int) -> BookView:
        if self.futures:
            name = "futures.level2_depth20" if depth <= 20 else "futures.level2_depth100"
            data = await self._client.call(name, query={"symbol": symbol})
            fut = m.parse_futures_order_book(data)
            return BookView(
                symbol, "rest", fut.sequence, fut.ts // 1_000_000,
                tuple(fut.bids[:depth]), tuple(fut.asks[:depth]),
            )  # fmt: skip
        name = "market.level2_20" if depth <= 20 else "market.level2_100"
        spot = m.parse_order_book(await self._client.call(name, query={"symbol": symbol}))
        return BookView(
            symbol, "rest", int(spot.sequence), spot.time,
            tuple(spot.bids[:depth]), tuple(spot.asks[:depth]),
        )  # fmt: skip

    async def _partial_snapshot(self, symbol: str) -> bytes:
        """The feed's spot snapshot source: public ``level2_100``, remembering its floors."""
        raw = bytes(await self._client.call("market.level2_100", query={"symbol": symbol}))
        snap = m.parse_order_book(raw)
        self._floors[symbol] = _Floors(_floor(snap.bids), _floor(snap.asks))
        return raw
