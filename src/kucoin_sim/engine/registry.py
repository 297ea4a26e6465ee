"""Every user's orders and fills, with the look-ups and filtered listings the REST API needs.

Orders of *ephemeral* users (the market makers) are kept only while active and their fills are
not stored, so a long-running simulator does not grow without bound because of its own quotes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from kucoin_sim.engine.types import AccountType, Fill, Order, OrderType, Side


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

    def __init__(self) -> None:
        self._orders: dict[str, Order] = {}
        self._by_user: dict[str, list[Order]] = {}
        self._by_client_oid: dict[tuple[str, str], Order] = {}
        self._active: dict[str, dict[str, Order]] = {}
        self._fills: dict[str, list[Fill]] = {}
        self.ephemeral: set[str] = set()

    def add(self, order: Order) -> None:
        """Register a freshly accepted order."""
        self._orders[order.id] = order
        if order.client_oid:
            self._by_client_oid[(order.uid, order.client_oid)] = order
        if order.uid not in self.ephemeral:
            self._by_user.setdefault(order.uid, []).append(order)
            if order.active:
                self._active.setdefault(order.uid, {})[order.id] = order

    def done(self, order: Order) -> None:
        """An order is done: off the active index; forgotten if its user is ephemeral."""
        active = self._active.get(order.uid)
        if active is not None:
            active.pop(order.id, None)
        if order.uid in self.ephemeral:
            self._orders.pop(order.id, None)
            if order.client_oid:
                self._by_client_oid.pop((order.uid, order.client_oid), None)

    def get(self, order_id: str) -> Order | None:
        """The order with this id (any user)."""
        return self._orders.get(order_id)

    def by_client_oid(self, uid: str, client_oid: str) -> Order | None:
        """The latest order of ``uid`` with this clientOid, active or done."""
        return self._by_client_oid.get((uid, client_oid))

    def user_orders(self, uid: str) -> list[Order]:
        """All of a user's orders, oldest first (the live list: do not mutate)."""
        return self._by_user.get(uid, [])

    def orders(self, uid: str, active: bool | None, flt: OrderFilter) -> Iterator[Order]:
        """A user's orders, newest first, filtered (active ones from their own index)."""
        if active:
            candidates: Iterable[Order] = reversed(self._active.get(uid, {}).values())
        else:
            candidates = reversed(self.user_orders(uid))
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
                self._fills.setdefault(fill.uid, []).append(fill)

    def fills(self, uid: str, order_id: str | None, flt: OrderFilter) -> Iterator[Fill]:
        """A user's fills, newest first, filtered."""
        for fill in reversed(self._fills.get(uid, [])):
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
