"""Live level-2 books: WebSocket deltas + REST snapshots pumped through the core synchronisers.

::

    async with BookFeed(client) as feed:            # client: a KuCoinClient
        async for book in feed.books("BTC-USDT"):   # the live L2Synchronizer, after each change
            print(book.best_bid(), book.best_ask())

Every symbol has one :class:`~kcgateway.kucoin.orderbook.L2Synchronizer` (spot) or
:class:`~kcgateway.kucoin.orderbook.FuturesL2Synchronizer` (``futures=True``). Deltas go in as
they arrive; a ``FetchSnapshot`` action starts one snapshot task per symbol (spot:
``GET /api/v3/market/orderbook/level2``, signed; futures: ``GET /api/v1/level2/snapshot``); when a
subscription is (re)acknowledged, after a reconnect, the book is reset and rebuilt the same way.
``snapshot_source`` replaces that REST call (the gateway passes a public, partial
``level2_100`` source so that spot books need no credentials). A failed snapshot is retried
after a jittered backoff. ``unwatch`` unsubscribes a symbol; ``resync`` rebuilds one book.
``books()`` yields only live books and skips intermediate states when the consumer is slower
than the feed (latest wins).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import msgspec

from kcgateway.clock import Clock, SystemClock
from kcgateway.errors import KcgatewayError, ProtocolError
from kcgateway.exchange.rest import KuCoinClient
from kcgateway.exchange.ws import DEFAULT_RETRY, StreamMetrics, WsClient, WsOwner
from kcgateway.kucoin.orderbook import (
    Action,
    BookChanged,
    Desynced,
    FetchSnapshot,
    FuturesL2Delta,
    FuturesL2Synchronizer,
    L2Synchronizer,
    parse_l2_data,
    parse_l2_snapshot,
)
from kcgateway.kucoin.retry import RetryPolicy
from kcgateway.kucoin.ws_session import DataMessage

__all__ = ["Book", "BookFeed"]

log = logging.getLogger("kcgateway.exchange.book_feed")

Book = L2Synchronizer | FuturesL2Synchronizer
BookCallback = Callable[[Book], None]
#: ``await source(symbol)``: the raw ``data`` JSON of a REST order book snapshot for ``symbol``
SnapshotSource = Callable[[str], Awaitable[bytes]]
_SPOT_PREFIX = "/market/level2:"
_FUTURES_PREFIX = "/contractMarket/level2:"
_futures_decoder = msgspec.json.Decoder(FuturesL2Delta)


class BookFeed(WsOwner):
    """Keeps the books of the watched symbols in step with the exchange (module docstring)."""

    def __init__(
        self,
        client: KuCoinClient,
        *,
        futures: bool = False,
        http: aiohttp.ClientSession | None = None,
        clock: Clock | None = None,
        metrics: StreamMetrics | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        rand: Callable[[], float] = random.random,
        max_topics: int = 250,
        snapshot_source: SnapshotSource | None = None,
    ) -> None:
        self.futures = futures
        self.snapshots = 0
        super().__init__(http)
        self._client = client
        self._clock = clock or SystemClock()
        self._metrics = metrics
        self._retry = retry
        self._rand = rand
        self._max_topics = max_topics
        self._snapshot_source = snapshot_source
        self._books: dict[str, Book] = {}
        self._fetching: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()
        self._waiters: dict[str, list[asyncio.Queue[Book]]] = {}
        self._callbacks: list[BookCallback] = []

    def _build_ws(self, http: aiohttp.ClientSession) -> WsClient:
        source = self._client.ws.futures_public_token if self.futures else None
        return WsClient(
            http,
            source or self._client.ws.public_token,
            on_message=self._on_message,
            on_subscribed=self._on_subscribed,
            clock=self._clock,
            metrics=self._metrics,
            retry=self._retry,
            rand=self._rand,
            max_topics=self._max_topics,
        )

    async def watch(self, *symbols: str) -> None:
        """Start keeping the books of ``symbols`` (spread over connections as needed)."""
        new = [s for s in symbols if s not in self._books]
        for symbol in new:
            self._books[symbol] = (FuturesL2Synchronizer if self.futures else L2Synchronizer)(
                symbol
            )
        if not new:
            return
        if self.futures:  # the futures level2 topic takes one symbol
            for symbol in new:
                await self.ws.subscribe(_FUTURES_PREFIX + symbol)
        else:
            await self.ws.subscribe(_SPOT_PREFIX + ",".join(new))

    async def unwatch(self, symbol: str) -> None:
        """Stop keeping ``symbol``'s book: unsubscribe and forget it (no-op when not watched)."""
        if self._books.pop(symbol, None) is None:
            return
        self._again.discard(symbol)
        task = self._fetching.get(symbol)
        if task is not None:
            task.cancel()
        await self.ws.unsubscribe((_FUTURES_PREFIX if self.futures else _SPOT_PREFIX) + symbol)

    def resync(self, symbol: str) -> None:
        """Discard a watched book and rebuild it from a new snapshot (e.g. a partial one aged)."""
        self._handle(self._books[symbol].reset())

    def book(self, symbol: str) -> Book:
        """The synchroniser of a watched symbol (check ``state`` before trusting it)."""
        return self._books[symbol]

    def on_book(self, callback: BookCallback) -> None:
        """Call ``callback(book)`` after every change of any watched book."""
        self._callbacks.append(callback)

    async def books(self, symbol: str) -> AsyncIterator[Book]:
        """Watch ``symbol`` and yield its live book after changes (latest wins when slow)."""
        queue: asyncio.Queue[Book] = asyncio.Queue(maxsize=1)
        self._waiters.setdefault(symbol, []).append(queue)
        try:
            await self.watch(symbol)
            while True:
                yield await queue.get()
        finally:
            self._waiters[symbol].remove(queue)

    async def aclose(self) -> None:
        """Close the connections, the snapshot tasks and the HTTP session if we made it."""
        await self._close_ws()
        for task in list(self._fetching.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._close_http()

    # -- pumping -------------------------------------------------------------------------------

    def _on_message(self, msg: DataMessage) -> None:
        try:
            if msg.topic.startswith(_SPOT_PREFIX):
                delta = parse_l2_data(msg.data)
                book = self._books.get(delta.symbol)
                lag_from = delta.time
            elif msg.topic.startswith(_FUTURES_PREFIX):
                symbol = msg.topic[len(_FUTURES_PREFIX) :]
                fdelta = msgspec.structs.replace(_futures_decoder.decode(msg.data), symbol=symbol)
                book = self._books.get(symbol)
                lag_from = fdelta.timestamp
            else:
                return
        except (msgspec.DecodeError, ProtocolError):
            log.warning("unreadable level2 message", extra={"topic": msg.topic})
            return
        if book is None:
            return
        if isinstance(book, L2Synchronizer):
            actions = book.receive_delta(delta)
        else:
            actions = book.receive_delta(fdelta)
        if self._metrics is not None and lag_from:
            self._metrics.lag(book.symbol, self._clock.now_ms() - lag_from)
        self._handle(actions)

    def _on_subscribed(self, keys: tuple[str, ...]) -> None:
        for key in keys:
            book = self._books.get(key.partition(":")[2])
            if book is not None:
                self._handle(book.reset())

    def _handle(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, BookChanged):
                self._changed(self._books[action.symbol])
            elif isinstance(action, FetchSnapshot):
                self._request_snapshot(action.symbol)
            elif isinstance(action, Desynced) and self._metrics is not None:
                self._metrics.gap(action.symbol)

    def _changed(self, book: Book) -> None:
        for callback in self._callbacks:
            callback(book)
        for queue in self._waiters.get(book.symbol, ()):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(book)

    def _request_snapshot(self, symbol: str) -> None:
        if symbol in self._fetching:
            self._again.add(symbol)
            return
        task = asyncio.get_running_loop().create_task(self._snapshot_loop(symbol))
        self._fetching[symbol] = task

    async def _snapshot_loop(self, symbol: str) -> None:
        attempt = 0
        try:
            while True:
                self._again.discard(symbol)
                try:
                    await self._load_snapshot(symbol)
                    attempt = 0
                except (KcgatewayError, aiohttp.ClientError, TimeoutError) as exc:
                    attempt += 1
                    log.warning("snapshot failed", extra={"symbol": symbol, "error": repr(exc)})
                    await asyncio.sleep(self._retry.backoff_ms(attempt, self._rand) / 1000)
                    self._again.add(symbol)
                if symbol not in self._again:
                    return
        finally:
            del self._fetching[symbol]

    async def _load_snapshot(self, symbol: str) -> None:
        if self._snapshot_source is not None:
            data: bytes | msgspec.Raw = await self._snapshot_source(symbol)
        elif self.futures:
            data = await self._client.call("futures.level2_snapshot", query={"symbol": symbol})
        else:
            data = await self._client.call("market.level2_full", query={"symbol": symbol})
        snapshot = parse_l2_snapshot(symbol, b'{"data":' + bytes(data) + b"}")
        self.snapshots += 1
        book = self._books.get(symbol)
        if book is None:  # unwatched while the snapshot was on its way
            return
        actions = book.receive_snapshot(snapshot)
        if self._metrics is not None:
            self._metrics.resynced(symbol)
        self._handle(actions)
