"""Price-time priority matching of one symbol, shared by spot and futures.

A :class:`Market` owns one :class:`~kucoin_sim.engine.book.OrderBook`, the symbol's waiting stop
orders, its GTT expiry heap and its :class:`~kucoin_sim.engine.marketdata.Tape`. What a fill
does to money is delegated to a :class:`Settlement` (spot: base/quote balances; futures:
positions and margin), so the book and the matching rules exist once.

Rules, in the order :meth:`Market.execute` applies them to an arriving order:

1. postOnly: if it would take liquidity it is cancelled (KuCoin cancels, it does not reject).
2. FOK: all-or-nothing is decided *before* any fill by walking the opposite side with the same
   self-trade rules the match will apply; if it cannot fill completely it is cancelled unfilled.
3. Match against the best opposite level while the price is acceptable (and, on spot, within
   the price protection bound; a limit order that would trade beyond it is refused up front,
   see :mod:`~kucoin_sim.engine.protection`): makers in time order;
   the maker's price; an iceberg trades at most its shown slice per turn; self-trade prevention
   per the taker's ``stp``; the settlement may cap a fill to what the order's hold can pay.
4. The rest of a GTC/GTT limit order rests; everything else (IOC, FOK, market) is cancelled.
5. Every trade moves the last price; waiting stop orders whose trigger is met run (1-4) in
   placement order, and so on until no stop triggers.

Invariant after every public call: best bid < best ask; ``Order.hold`` is what the ledger holds
for that order; a done order holds nothing and is out of the book.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from kucoin_sim.engine import protection
from kucoin_sim.engine.accounts import Ledger
from kucoin_sim.engine.book import Level, OrderBook
from kucoin_sim.engine.events import L2Change, OrderEvent, OrderEventType, Outbox, TradeEvent
from kucoin_sim.engine.ids import IdGenerator
from kucoin_sim.engine.marketdata import Tape
from kucoin_sim.engine.rules import floor_to
from kucoin_sim.engine.types import (
    ZERO,
    DoneReason,
    Fill,
    Order,
    OrderStatus,
    OrderType,
    Side,
    StopKind,
    Stp,
    TimeInForce,
    Trade,
)


class Settlement(Protocol):
    """What fills do to money; one implementation per market kind."""

    def reserve(self, order: Order, book: OrderBook, now_ms: int) -> None:
        """Freeze what ``order`` needs (sets ``order.hold``) or raise the balance error."""

    def affordable(self, order: Order, price: Decimal, size: Decimal) -> Decimal:
        """The part of ``size`` the taker's hold can pay for at ``price``."""

    def settle(
        self,
        taker: Order,
        maker: Order,
        *,
        price: Decimal,
        size: Decimal,
        trade_id: str,
        now_ms: int,
    ) -> tuple[Fill, Fill]:
        """Move the money of one trade; returns the taker's and the maker's fills."""

    def trim(self, order: Order, now_ms: int) -> None:
        """Release whatever ``order.hold`` exceeds the need of its remaining size."""

    def unreserve(self, order: Order, now_ms: int) -> None:
        """Release all of ``order.hold`` (the order is done)."""


@dataclass
class ActiveCounter:
    """Active orders per uid and per (uid, symbol), for KuCoin's 2,000 / 200 limits."""

    per_uid: dict[str, int] = field(default_factory=dict)
    per_symbol: dict[tuple[str, str], int] = field(default_factory=dict)
    counted: set[str] = field(default_factory=set)

    def add(self, order: Order) -> None:
        """Count an order that rests or waits (once)."""
        if order.id in self.counted:
            return
        self.counted.add(order.id)
        self.per_uid[order.uid] = self.per_uid.get(order.uid, 0) + 1
        key = (order.uid, order.symbol)
        self.per_symbol[key] = self.per_symbol.get(key, 0) + 1

    def remove(self, order: Order) -> None:
        """Uncount a done order (if it was counted)."""
        if order.id not in self.counted:
            return
        self.counted.discard(order.id)
        self.per_uid[order.uid] -= 1
        self.per_symbol[(order.uid, order.symbol)] -= 1


@dataclass
class Context:
    """Engine-wide services a market needs."""

    ids: IdGenerator
    ledger: Ledger
    outbox: Outbox
    active: ActiveCounter
    on_fills: Callable[[Fill, Fill], None]
    on_done: Callable[[Order], None]
    quiet: set[str] = field(default_factory=set)
    """Users whose private order events are not recorded (the market makers)."""


class Market:
    """One symbol: its book, stops, expiries and tape; see the module docstring for the rules."""

    def __init__(
        self,
        symbol: str,
        *,
        tick_size: Decimal,
        size_increment: Decimal,
        multiplier: Decimal,
        settlement: Settlement,
        ctx: Context,
    ) -> None:
        self.symbol = symbol
        self.book = OrderBook(symbol, tick_size)
        self.size_increment = size_increment
        self.multiplier = multiplier
        self.settlement = settlement
        self.ctx = ctx
        self.stops: dict[str, Order] = {}
        self.expiries: list[tuple[int, int, str]] = []
        self.tape = Tape()
        self.tape.multiplier = multiplier
        self.open_orders: dict[str, Order] = {}
        self.protect_rate: Decimal | None = None

    # -- entry points ----------------------------------------------------------------------

    def submit(self, order: Order, now_ms: int) -> None:
        """Take a validated, reserved order: park a stop, or execute it now.

        A stop whose condition already holds against the last price triggers at once.
        """
        self._event(OrderEventType.RECEIVED, order, now_ms)
        if order.stop is not None and not order.stop_triggered:
            order.status = OrderStatus.NEW
            self.stops[order.id] = order
            self.open_orders[order.id] = order
            self.ctx.active.add(order)
        else:
            self.execute(order, now_ms)
        self.run_stops(now_ms)

    def cancel(self, order: Order, now_ms: int) -> None:
        """Cancel an active order of this market (resting or waiting stop)."""
        if order.in_book:
            before = self._visible_at(order)
            level = self.book.remove(order)
            self._l2(level, order.side, before, now_ms)
        self.stops.pop(order.id, None)
        self._finish(order, DoneReason.CANCELED, now_ms)

    def reduce(self, order: Order, size: Decimal, now_ms: int) -> None:
        """Cancel ``size`` of an active order (STP decrease, HF partial cancel).

        Cancelling all that remains cancels the order; otherwise the order keeps its place in
        the queue, its hold shrinks to the new need and an ``update`` event is recorded.
        """
        if size >= order.remaining:
            self.cancel(order, now_ms)
            return
        old_size = order.remaining
        if order.in_book:
            before = self._visible_at(order)
            level = self.book.shrink(order, size)
            self._l2(level, order.side, before, now_ms)
        else:
            order.remaining -= size
        order.cancelled_size += size
        order.last_updated_ms = now_ms
        self.settlement.trim(order, now_ms)
        if self.ctx.outbox.enabled:
            self.ctx.outbox.put(
                OrderEvent(OrderEventType.UPDATE, order.snapshot(), now_ms, old_size=old_size)
            )

    def expire(self, now_ms: int) -> None:
        """Cancel GTT orders whose time is up (``now >= created + cancelAfter``)."""
        while self.expiries and self.expiries[0][0] <= now_ms:
            _, _, order_id = heapq.heappop(self.expiries)
            order = self.open_orders.get(order_id)
            if order is not None:
                self.cancel(order, now_ms)

    def execute(self, order: Order, now_ms: int) -> None:
        """Rules 1-4 of the module docstring for one order."""
        order.status = OrderStatus.OPEN
        if order.post_only and self.book.crosses(order.side, order.price):
            self._finish(order, DoneReason.CANCELED, now_ms)
            return
        fok = order.tif is TimeInForce.FOK and order.type is OrderType.LIMIT
        if self.breaches_protection(order) or (fok and not self._fok_fillable(order)):
            self._finish(order, DoneReason.CANCELED, now_ms)
            return
        killed = self._match(order, now_ms)
        self._conclude(order, killed, now_ms)

    def breaches_protection(self, order: Order) -> bool:
        """Whether a limit order would trade beyond the price protection bound."""
        return protection.breaches(self.book, order, self.protect_rate)

    def run_stops(self, now_ms: int) -> None:
        """Trigger and execute waiting stops until none is due (rule 5)."""
        while True:
            last = self.tape.last_price
            if last is None or not self.stops:
                return
            due = [o for o in self.stops.values() if _stop_due(o, last)]
            if not due:
                return
            for order in due:
                if self.stops.pop(order.id, None) is None:
                    continue
                order.stop_triggered = True
                self._event(OrderEventType.TRIGGERED, order, now_ms)
                self.execute(order, now_ms)

    # -- matching ----------------------------------------------------------------------------

    def _match(self, taker: Order, now_ms: int) -> bool:
        """Trade ``taker`` against the book; True when self-trade prevention killed it."""
        opposite = self.book.side(taker.side.opposite)
        limit = protection.bound(self.book, taker.side, self.protect_rate)
        while not _taker_done(taker):
            level = opposite.best()
            if level is None or not _price_ok(taker, level.price):
                return False
            if not protection.within(taker.side, level.price, limit):
                return False
            maker = level.first()
            if maker.uid == taker.uid and taker.stp is not None:
                if self._prevent(taker, maker, now_ms):
                    return True
                continue
            size = self._fill_size(taker, maker, level.price)
            if size <= 0:
                return False
            self._trade(taker, maker, level, size, now_ms)
        return False

    def _fill_size(self, taker: Order, maker: Order, price: Decimal) -> Decimal:
        available = maker.shown if maker.iceberg else maker.remaining
        if taker.remaining_funds is not None:
            want = floor_to(taker.remaining_funds / (price * self.multiplier), self.size_increment)
        else:
            want = taker.remaining
        return self.settlement.affordable(taker, price, min(available, want))

    def _trade(self, taker: Order, maker: Order, level: Level, size: Decimal, now_ms: int) -> None:
        price = level.price
        funds = price * size * self.multiplier
        for order in (taker, maker):
            order.deal_size += size
            order.deal_funds += funds
            order.last_updated_ms = now_ms
        if taker.remaining_funds is not None:
            taker.remaining_funds -= funds
        else:
            taker.remaining -= size
        maker.remaining -= size
        before = level.visible
        self.book.traded(maker, size)
        self._l2(level, maker.side, before, now_ms)
        trade_id = self.ctx.ids.trade_id()
        taker_fill, maker_fill = self.settlement.settle(
            taker, maker, price=price, size=size, trade_id=trade_id, now_ms=now_ms
        )
        self.ctx.on_fills(taker_fill, maker_fill)
        self._record_trade(taker, maker, taker_fill, now_ms)
        self._match_event(taker, taker_fill, now_ms)
        self._match_event(maker, maker_fill, now_ms)
        if maker.remaining <= 0:
            self._finish(maker, DoneReason.FILLED, now_ms)

    def _record_trade(self, taker: Order, maker: Order, fill: Fill, now: int) -> None:
        price, size, trade_id = fill.price, fill.size, fill.trade_id
        seq = self.book.sequence
        self.tape.record(
            Trade(trade_id, self.symbol, taker.side, price, size, maker.id, taker.id, seq, now)
        )
        self.ctx.outbox.put(
            TradeEvent(self.symbol, trade_id, taker.side, price, size, maker.id, taker.id, seq, now)
        )

    def _prevent(self, taker: Order, maker: Order, now_ms: int) -> bool:
        """Apply the taker's STP against its own resting ``maker``; True = taker stops."""
        stp = taker.stp
        if stp is Stp.CO or stp is Stp.CB:
            self.cancel(maker, now_ms)
            return stp is Stp.CB
        if stp is Stp.CN or taker.remaining_funds is not None:
            return True
        cut = min(taker.remaining, maker.remaining)
        taker.remaining -= cut
        taker.cancelled_size += cut
        self.reduce(maker, cut, now_ms)
        return taker.remaining <= 0

    def _fok_fillable(self, order: Order) -> bool:
        """Whether ``order`` would fill completely (same STP rules as :meth:`_match`)."""
        need = order.remaining
        for level in self.book.side(order.side.opposite):
            if not _price_ok(order, level.price):
                return False
            for maker in level.orders.values():
                if maker.uid == order.uid and order.stp is not None:
                    if order.stp is Stp.CO:
                        continue
                    return False
                need -= maker.remaining
                if need <= 0:
                    return True
        return False

    # -- conclusion --------------------------------------------------------------------------

    def _conclude(self, order: Order, killed: bool, now_ms: int) -> None:
        """Rest, fill or cancel ``order`` after matching (rule 4)."""
        if killed:
            self._finish(order, DoneReason.CANCELED, now_ms)
        elif order.remaining_funds is not None or order.remaining <= 0:
            reason = DoneReason.FILLED if order.deal_size > 0 else DoneReason.CANCELED
            self._finish(order, reason, now_ms)
        elif order.type is OrderType.MARKET or order.tif in (TimeInForce.IOC, TimeInForce.FOK):
            self._finish(order, DoneReason.CANCELED, now_ms)
        else:
            self._rest(order, now_ms)

    def _rest(self, order: Order, now_ms: int) -> None:
        before = self._visible_level(order)
        level = self.book.add(order)
        self._l2(level, order.side, before, now_ms)
        self.open_orders[order.id] = order
        self.ctx.active.add(order)
        if order.tif is TimeInForce.GTT and order.cancel_after_s:
            due = order.created_at_ms + order.cancel_after_s * 1000
            heapq.heappush(self.expiries, (due, order.seq, order.id))
        self._event(OrderEventType.OPEN, order, now_ms)

    def _finish(self, order: Order, reason: DoneReason, now_ms: int) -> None:
        """Mark ``order`` done: out of the book, holds released, counters and events updated."""
        if order.in_book:
            self.book.remove(order)
        if reason is DoneReason.CANCELED:
            order.cancelled_size += order.remaining
            if order.remaining_funds is not None:
                order.cancelled_funds += order.remaining_funds
                order.remaining_funds = ZERO
            order.remaining = ZERO
        order.status = OrderStatus.DONE
        order.done_reason = reason
        order.last_updated_ms = now_ms
        self.settlement.unreserve(order, now_ms)
        self.open_orders.pop(order.id, None)
        self.ctx.active.remove(order)
        self.ctx.on_done(order)
        kind = OrderEventType.FILLED if reason is DoneReason.FILLED else OrderEventType.CANCELED
        self._event(kind, order, now_ms)

    # -- events ------------------------------------------------------------------------------

    def _visible_at(self, order: Order) -> Decimal:
        return self._visible_level(order)

    def _visible_level(self, order: Order) -> Decimal:
        assert order.price is not None  # noqa: S101 - only priced orders reach the book
        side = self.book.side(order.side)
        level = side.levels.get(side.key_of(self.book.tick(order.price)))
        return level.visible if level is not None else ZERO

    def _l2(self, level: Level, side: Side, before: Decimal, now_ms: int) -> None:
        """Bump the sequence and record the level's new visible size, if it changed."""
        if level.visible == before:
            return
        self.book.sequence += 1
        self.ctx.outbox.put(
            L2Change(self.symbol, side, level.price, level.visible, self.book.sequence, now_ms)
        )

    def _event(self, kind: OrderEventType, order: Order, now_ms: int) -> None:
        if self.ctx.outbox.enabled and order.uid not in self.ctx.quiet:
            self.ctx.outbox.put(OrderEvent(kind, order.snapshot(), now_ms))

    def _match_event(self, order: Order, fill: Fill, now_ms: int) -> None:
        if self.ctx.outbox.enabled and order.uid not in self.ctx.quiet:
            self.ctx.outbox.put(
                OrderEvent(
                    OrderEventType.MATCH,
                    order.snapshot(),
                    now_ms,
                    match_price=fill.price,
                    match_size=fill.size,
                    trade_id=fill.trade_id,
                    liquidity=fill.liquidity,
                )
            )


def _taker_done(order: Order) -> bool:
    if order.remaining_funds is not None:
        return order.remaining_funds <= 0
    return order.remaining <= 0


def _price_ok(taker: Order, price: Decimal) -> bool:
    if taker.type is OrderType.MARKET or taker.price is None:
        return True
    return price <= taker.price if taker.side is Side.BUY else price >= taker.price


def _stop_due(order: Order, last: Decimal) -> bool:
    assert order.stop_price is not None  # noqa: S101 - validated at placement
    if order.stop is StopKind.LOSS:
        return last <= order.stop_price
    return last >= order.stop_price
