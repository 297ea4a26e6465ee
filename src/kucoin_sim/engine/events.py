"""Events the engine records for the WebSocket feeds, drained by the server.

Every book change bumps the symbol's ``sequence`` and yields one :class:`L2Change` carrying the
level's new aggregated *visible* size (``0`` removes the level), so a client replaying the
deltas over a snapshot with the same sequence rebuilds the book exactly (PROTOCOL.md section 7).
The outbox is a bounded deque: if nobody drains it, the oldest events are dropped.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass
from decimal import Decimal

from kucoin_sim.engine.types import Liquidity, Order, Side


@dataclass(frozen=True, slots=True)
class L2Change:
    """A price level's new visible size (absolute; 0 = level removed)."""

    symbol: str
    side: Side
    price: Decimal
    size: Decimal
    sequence: int
    time_ms: int


@dataclass(frozen=True, slots=True)
class TradeEvent:
    """A public match (``/market/match``); ``side`` is the taker's side."""

    symbol: str
    trade_id: str
    side: Side
    price: Decimal
    size: Decimal
    maker_order_id: str
    taker_order_id: str
    sequence: int
    time_ms: int


class OrderEventType(enum.StrEnum):
    """``type`` of a private order-change message."""

    RECEIVED = "received"
    OPEN = "open"
    MATCH = "match"
    UPDATE = "update"
    FILLED = "filled"
    CANCELED = "canceled"
    TRIGGERED = "triggered"


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """A private order change; ``order`` is a snapshot taken when it happened."""

    type: OrderEventType
    order: Order
    time_ms: int
    match_price: Decimal | None = None
    match_size: Decimal | None = None
    trade_id: str | None = None
    liquidity: Liquidity | None = None
    old_size: Decimal | None = None


@dataclass(frozen=True, slots=True)
class BalanceEvent:
    """A balance change of one (uid, account type, currency) account."""

    uid: str
    account_id: str
    account_type: str
    currency: str
    total: Decimal
    available: Decimal
    hold: Decimal
    available_change: Decimal
    hold_change: Decimal
    relation_event: str
    relation_event_id: str
    time_ms: int


@dataclass(frozen=True, slots=True)
class PositionEvent:
    """A futures position after a fill changed it (``/contract/position``)."""

    uid: str
    symbol: str
    current_qty: Decimal
    avg_entry_price: Decimal
    pos_margin: Decimal
    realised_pnl: Decimal
    leverage: Decimal
    time_ms: int


Event = L2Change | TradeEvent | OrderEvent | BalanceEvent | PositionEvent


class Outbox:
    """A bounded FIFO of events; :meth:`drain` hands them out once."""

    def __init__(self, maxlen: int = 200_000) -> None:
        self._events: deque[Event] = deque(maxlen=maxlen)
        self.enabled = True

    def put(self, event: Event) -> None:
        """Record one event (a no-op while disabled, for benchmarks)."""
        if self.enabled:
            self._events.append(event)

    def drain(self) -> list[Event]:
        """Every event recorded since the last drain, oldest first."""
        events = list(self._events)
        self._events.clear()
        return events
