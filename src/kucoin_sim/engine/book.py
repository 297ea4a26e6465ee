"""One symbol's order book: price levels keyed by integer ticks, FIFO queues inside a level.

Each side keeps a sorted list of level keys (ask key = tick, bid key = -tick, so the best level
of either side is ``keys[0]``) and a dict key -> :class:`Level`. A level is an insertion-ordered
dict of orders (time priority; O(1) removal by id) plus the aggregated *visible* size.

Visibility: a plain order shows its whole remaining size, a hidden order shows nothing, an
iceberg shows ``Order.shown`` (at most ``visible_size``); when an iceberg's slice is used up it is
refilled and loses its time priority (moved to the back of its level). Hidden orders keep their
arrival priority among visible ones (a simplification: KuCoin ranks them after visible ones).

Invariant: at rest, best bid < best ask (the matcher never leaves a crossed book).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from decimal import Decimal

from kucoin_sim.engine.types import ZERO, Order, Side


class Level:
    """Orders resting at one price, oldest first."""

    __slots__ = ("key", "orders", "price", "visible")

    def __init__(self, key: int, price: Decimal) -> None:
        self.key = key
        self.price = price
        self.orders: dict[str, Order] = {}
        self.visible = ZERO

    def first(self) -> Order:
        """The order with time priority."""
        return next(iter(self.orders.values()))

    def total(self) -> Decimal:
        """Everything that can trade here, hidden parts included."""
        return sum((o.remaining for o in self.orders.values()), ZERO)


class SideBook:
    """The bids or the asks of one book."""

    __slots__ = ("keys", "levels", "side")

    def __init__(self, side: Side) -> None:
        self.side = side
        self.keys: list[int] = []
        self.levels: dict[int, Level] = {}

    def key_of(self, tick: int) -> int:
        """The sort key of a tick on this side (best first)."""
        return -tick if self.side is Side.BUY else tick

    def best(self) -> Level | None:
        """The best level, if any."""
        return self.levels[self.keys[0]] if self.keys else None

    def level_for(self, tick: int, price: Decimal) -> Level:
        """The level at ``tick``, created when missing."""
        key = self.key_of(tick)
        level = self.levels.get(key)
        if level is None:
            level = Level(key, price)
            self.levels[key] = level
            bisect.insort(self.keys, key)
        return level

    def drop(self, level: Level) -> None:
        """Forget an empty level."""
        del self.levels[level.key]
        index = bisect.bisect_left(self.keys, level.key)
        del self.keys[index]

    def __iter__(self) -> Iterator[Level]:
        """Levels, best first (do not mutate while iterating)."""
        return (self.levels[k] for k in self.keys)


def shown_size(order: Order) -> Decimal:
    """What an order should display right now."""
    if order.hidden:
        return ZERO
    if order.iceberg and order.visible_size is not None:
        return min(order.visible_size, order.remaining)
    return order.remaining


class OrderBook:
    """Both sides of one symbol's book plus its sequence number."""

    def __init__(self, symbol: str, tick_size: Decimal) -> None:
        self.symbol = symbol
        self.tick_size = tick_size
        self.bids = SideBook(Side.BUY)
        self.asks = SideBook(Side.SELL)
        self.sequence = 0
        self._where: dict[str, Level] = {}

    def side(self, side: Side) -> SideBook:
        """The book of ``side``."""
        return self.bids if side is Side.BUY else self.asks

    def tick(self, price: Decimal) -> int:
        """The integer tick of a valid price."""
        return int(price / self.tick_size)

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._where

    def add(self, order: Order) -> Level:
        """Rest ``order`` (priced) at the back of its level; returns the level."""
        assert order.price is not None  # noqa: S101 - the matcher only rests limit orders
        level = self.side(order.side).level_for(self.tick(order.price), order.price)
        order.shown = shown_size(order)
        level.orders[order.id] = order
        level.visible += order.shown
        self._where[order.id] = level
        order.in_book = True
        return level

    def remove(self, order: Order) -> Level:
        """Take ``order`` out of the book; returns its (possibly now empty, dropped) level."""
        level = self._where.pop(order.id)
        del level.orders[order.id]
        level.visible -= order.shown
        order.shown = ZERO
        order.in_book = False
        if not level.orders:
            self.side(order.side).drop(level)
        return level

    def traded(self, order: Order, size: Decimal) -> Level:
        """Account for ``size`` of a resting order trading (``remaining`` already reduced).

        Removes the order when it is exhausted; refills (and requeues) an iceberg slice.
        """
        level = self._where[order.id]
        if order.remaining <= 0:
            return self.remove(order)
        if order.hidden:
            return level
        used = min(size, order.shown)
        order.shown -= used
        level.visible -= used
        if order.shown <= 0 and order.iceberg:
            del level.orders[order.id]
            level.orders[order.id] = order
            order.shown = shown_size(order)
            level.visible += order.shown
        return level

    def shrink(self, order: Order, size: Decimal) -> Level:
        """Reduce a resting order by ``size`` without a trade (STP decrease)."""
        order.remaining -= size
        return self.traded(order, size)

    def crosses(self, side: Side, price: Decimal | None) -> bool:
        """Whether an incoming order at ``price`` (None = market) meets the opposite side."""
        best = self.side(side.opposite).best()
        if best is None:
            return False
        if price is None:
            return True
        return price >= best.price if side is Side.BUY else price <= best.price

    def depth(self, side: Side, limit: int | None) -> list[tuple[Decimal, Decimal]]:
        """Aggregated visible levels, best first, skipping levels that show nothing."""
        rows: list[tuple[Decimal, Decimal]] = []
        for level in self.side(side):
            if level.visible > 0:
                rows.append((level.price, level.visible))
                if limit is not None and len(rows) >= limit:
                    break
        return rows
