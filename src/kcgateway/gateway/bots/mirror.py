"""Paper trading on a mirrored market: the paper simulator's books follow a reference market.

A ``paper`` bot trades a simulated account. So that its fills happen at prices (and, level by
level, sizes) the real market offered, the simulator's book of each symbol paper bots trade is
made a copy of the reference market's book:

    reference exchange (KuCoin, or another ``kcgateway sim``)
      -- public WebSocket + REST, through the gateway's own book feed (gateway/books.py) -->
    PaperMirror -- POST /_sim/books (exchange/sim_control.py) --> paper simulator

The simulator's market maker for the symbol then quotes exactly the reference levels (and stops
its own random walk); a paper market order walks them as it would walk the exchange's book
(partial fills level by level, the simulator's KuCoin fee schedule). Resting paper orders that
a new reference book crosses trade, as the real market moved through them. The live account is
never involved: the paper orders go to the bot's paper account on the simulator.

:meth:`PaperMirror.sync` is awaited by the signal executor just before a paper order, so the
paper book the order meets is the reference book of that moment (at most the feed's latency
old); between signals a background loop keeps every followed symbol current. Every book pushed
is remembered (``history``) with its time, for the performance report's audit and the tests.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from kcgateway.gateway.books import BookView
from kcgateway.tasks import stop_task

log = logging.getLogger("kcgateway.signals.mirror")
Level = tuple[Decimal, Decimal]
HISTORY = 1000  # pushed books kept per symbol


class BookSource(Protocol):
    """The reference market's books (:class:`~kcgateway.gateway.books.BookService`)."""

    async def book(self, symbol: str, depth: int) -> BookView:
        """The best ``depth`` levels of ``symbol`` now."""
        ...

    async def aclose(self) -> None:
        """Stop following the reference."""
        ...


class BookSink(Protocol):
    """The paper simulator (:class:`~kcgateway.exchange.sim_control.SimControl`)."""

    async def mirror(self, symbol: str, bids: Sequence[Level], asks: Sequence[Level]) -> None:
        """Make the paper book of ``symbol`` quote exactly these levels."""
        ...

    async def aclose(self) -> None:
        """Close the connection to the simulator."""
        ...


@dataclass(frozen=True, slots=True)
class Pushed:
    """One reference book copied into the paper market, and when (ms, the mirror's clock)."""

    at_ms: int
    book: BookView


class PaperMirror:
    """Copies reference books into the paper simulator (see the module docstring)."""

    def __init__(
        self,
        reference: BookSource,
        paper: BookSink,
        *,
        now_ms: Callable[[], int],
        depth: int = 50,
        period_s: float = 0.2,
    ) -> None:
        self._reference, self._paper, self._now_ms = reference, paper, now_ms
        self.depth, self.period_s = depth, period_s
        self.followed: set[str] = set()
        self.history: dict[str, deque[Pushed]] = {}
        self._last: dict[str, tuple[tuple[Level, ...], tuple[Level, ...]]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._task: asyncio.Task[None] | None = None

    def follow(self, symbols: Iterable[str]) -> None:
        """Keep these symbols mirrored from now on (the paper bots' symbols)."""
        self.followed.update(symbols)

    async def sync(self, symbol: str) -> BookView:
        """Copy the reference book of ``symbol`` now (pushed only when it changed)."""
        self.followed.add(symbol)
        lock = self._locks.setdefault(symbol, asyncio.Lock())
        async with lock:
            view = await self._reference.book(symbol, self.depth)
            levels = (view.bids, view.asks)
            if self._last.get(symbol) != levels:
                await self._paper.mirror(symbol, view.bids, view.asks)
                self._last[symbol] = levels
                pushed = self.history.setdefault(symbol, deque(maxlen=HISTORY))
                pushed.append(Pushed(self._now_ms(), view))
            return view

    def start(self) -> None:
        """Keep every followed symbol current in the background."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def aclose(self) -> None:
        """Stop the background copying; close the reference feed and the simulator client."""
        task, self._task = self._task, None
        await stop_task(task)
        await self._reference.aclose()
        await self._paper.aclose()

    async def _run(self) -> None:
        while True:
            for symbol in sorted(self.followed):
                try:
                    await self.sync(symbol)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # one symbol's failure must not stop the others
                    log.warning("paper mirror of %s failed: %s", symbol, type(exc).__name__)
            await asyncio.sleep(self.period_s)
