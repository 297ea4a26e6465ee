"""Every user's orders and fills, with the look-ups and filtered listings the REST API needs.

Orders of *ephemeral* users (the market makers) are kept only while active and their fills are
not stored, so a long-running simulator does not grow without bound because of its own quotes.

History is bounded by :class:`Retention`: per user, only the newest ``done_orders`` done orders
and ``fills`` fills are kept, and none older than ``max_age_ms`` (the time is the one passed in
with each call: the time an order finished, a fill's time, or :meth:`OrderRegistry.prune`'s
``now_ms``). A pruned order is gone from every look-up, so queries answer as KuCoin does for an
unknown order. Active orders are never pruned.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from kucoin_sim.engine.types import AccountType, Fill, Order, OrderType, Side

DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class Retention:
    """How much history each user keeps (see the module docstring).

    Defaults: 10,000 done orders and 10,000 fills per user, none older than 7 days (KuCoin's
    order and fill lists answer at most a 7-day window). ``max_age_ms`` 0 keeps any age.
    """

    done_orders: int = 10_000
    fills: int = 10_000
    max_age_ms: int = 7 * DAY_MS

    def __post_init__(self) -> None:
        if min(self.done_orders, self.fills, self.max_age_ms) < 0:
            raise ValueError("retention limits must not be negative")


@dataclass(frozen=True, slots=True)
class OrderFilter:
    """Optional filters of :meth:`OrderRegistry.orders` and :meth:`OrderRegistry.fills`."""

    symbol: str | None = None
    side: Side | None = None
    type: OrderType | None = None
    account_type: AccountType | None = None
    start_ms: int | None = None
    end_ms: int | None = None

    def accepts(
        self,
        symbol: str,
        side: Side,
        type_: OrderType,
        account_type: AccountType,
        time_ms: int,
    ) -> bool:
        """Whether a row with these values passes every filter that is set."""
        return (
            (self.symbol is None or symbol == self.symbol)
            and (self.side is None or side is self.side)
            and (self.type is None or type_ is self.type)
            and (self.account_type is None or account_type is self.account_type)
            and (self.start_ms is None or time_ms >= self.start_ms)
            and (self.end_ms is None or time_ms <= self.end_ms)
        )


class OrderRegistry:
    """Orders by id, by (uid, clientOid) (the latest one) and per user in creation order."""

    def __init__(self, retention: Retention | None = None) -> None:
        self.retention = retention or Retention()
        self._orders: dict[str, Order] = {}
        self._by_user: dict[str, dict[str, Order]] = {}
        self._by_client_oid: dict[tuple[str, str], Order] = {}
        self._active: dict[str, dict[str, Order]] = {}
        self._done: dict[str, deque[Order]] = {}
        self._fills: dict[str, deque[Fill]] = {}
        self.ephemeral: set[str] = set()

    def add(self, order: Order) -> None:
        """Register a freshly accepted order."""
        self._orders[order.id] = order
        if order.client_oid:
            self._by_client_oid[(order.uid, order.client_oid)] = order
        if order.uid not in self.ephemeral:
            self._by_user.setdefault(order.uid, {})[order.id] = order
            if order.active:
                self._active.setdefault(order.uid, {})[order.id] = order

    def done(self, order: Order) -> None:
        """An order is done: off the active index; forgotten if its user is ephemeral."""
        active = self._active.get(order.uid)
        if active is not None:
            active.pop(order.id, None)
        if order.uid in self.ephemeral:
            self._forget(order)
            return
        done = self._done.setdefault(order.uid, deque())
        done.append(order)
        self._prune_orders(done, order.last_updated_ms)

    def _forget(self, order: Order) -> None:
        self._orders.pop(order.id, None)
        user = self._by_user.get(order.uid)
        if user is not None:
            user.pop(order.id, None)
        key = (order.uid, order.client_oid or "")
        if order.client_oid and self._by_client_oid.get(key) is order:
            del self._by_client_oid[key]

    def _prune_orders(self, done: deque[Order], now_ms: int) -> None:
        keep, max_age = self.retention.done_orders, self.retention.max_age_ms
        while done and (
            len(done) > keep or (max_age and done[0].last_updated_ms < now_ms - max_age)
        ):
            self._forget(done.popleft())

    def _prune_fills(self, fills: deque[Fill], now_ms: int) -> None:
        keep, max_age = self.retention.fills, self.retention.max_age_ms
        while fills and (
            len(fills) > keep or (max_age and fills[0].created_at_ms < now_ms - max_age)
        ):
            fills.popleft()

    def prune(self, now_ms: int) -> None:
        """Drop every user's done orders and fills older than ``max_age_ms`` at ``now_ms``."""
        for done in self._done.values():
            self._prune_orders(done, now_ms)
        for fills in self._fills.values():
            self._prune_fills(fills, now_ms)

    def sizes(self) -> dict[str, int]:
        """How many orders (any state), done orders and fills are stored (memory checks)."""
        return {
            "orders": len(self._orders),
            "doneOrders": sum(len(d) for d in self._done.values()),
            "fills": sum(len(f) for f in self._fills.values()),
        }

    def get(self, order_id: str) -> Order | None:
        """The order with this id (any user)."""
        return self._orders.get(order_id)

    def by_client_oid(self, uid: str, client_oid: str) -> Order | None:
        """The latest order of ``uid`` with this clientOid, active or done."""
        return self._by_client_oid.get((uid, client_oid))

    def user_orders(self, uid: str) -> list[Order]:
        """A user's stored orders, oldest first."""
        return list(self._by_user.get(uid, {}).values())

    def orders(self, uid: str, active: bool | None, flt: OrderFilter) -> Iterator[Order]:
        """A user's orders, newest first, filtered (active ones from their own index)."""
        if active:
            candidates: Iterable[Order] = reversed(self._active.get(uid, {}).values())
        else:
            candidates = reversed(self._by_user.get(uid, {}).values())
        for order in candidates:
            if active is not None and order.active is not active:
                continue
            if flt.accepts(
                order.symbol, order.side, order.type, order.account_type, order.created_at_ms
            ):
                yield order

    def add_fills(self, fills: Iterable[Fill]) -> None:
        """Store fills of non-ephemeral users."""
        for fill in fills:
            if fill.uid not in self.ephemeral:
                stored = self._fills.setdefault(fill.uid, deque())
                stored.append(fill)
                self._prune_fills(stored, fill.created_at_ms)

    def fills(self, uid: str, order_id: str | None, flt: OrderFilter) -> Iterator[Fill]:
        """A user's fills, newest first, filtered."""
        for fill in reversed(self._fills.get(uid, deque())):
            if order_id is not None and fill.order_id != order_id:
                continue
            if flt.accepts(
                fill.symbol, fill.side, fill.order_type, fill.account_type, fill.created_at_ms
            ):
                yield fill

    def all_fills(self) -> Iterator[Fill]:
        """Every stored fill (tests)."""
        for fills in self._fills.values():
            yield from fills
