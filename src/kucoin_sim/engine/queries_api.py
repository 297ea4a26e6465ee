"""The read-only look-ups of the :class:`~kucoin_sim.engine.exchange.Exchange` facade."""

from __future__ import annotations

from dataclasses import replace

from kucoin_sim.engine.accounts import Balance, Ledger, LedgerEntry
from kucoin_sim.engine.registry import OrderFilter, OrderRegistry
from kucoin_sim.engine.types import AccountType, Fill, Order, OrderType, Side


class QueriesApi:
    """Balances, ledger entries, orders and fills of a user (mixed into Exchange)."""

    ledger: Ledger
    registry: OrderRegistry

    def balances(
        self, uid: str, account_type: AccountType | None = None, currency: str | None = None
    ) -> list[Balance]:
        """Snapshots of a user's accounts, filtered."""
        return [replace(a) for a in self.ledger.accounts(uid, account_type, currency)]

    def account(self, account_id: str) -> Balance | None:
        """Snapshot of the account with this 24-hex id."""
        acct = self.ledger.by_id(account_id)
        return None if acct is None else replace(acct)

    def ledger_entries(
        self,
        uid: str,
        *,
        currency: str | None = None,
        account_type: AccountType | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> list[LedgerEntry]:
        """A user's balance changes (the latest 1,000), newest first, filtered."""
        return [
            e
            for e in self.ledger.entries(uid)
            if (currency is None or e.currency == currency)
            and (account_type is None or e.account_type is account_type)
            and (start_ms is None or e.created_at_ms >= start_ms)
            and (end_ms is None or e.created_at_ms <= end_ms)
        ]

    def get(self, uid: str, order_id: str) -> Order | None:
        """Snapshot of one of ``uid``'s orders."""
        order = self.registry.get(order_id)
        return order.snapshot() if order is not None and order.uid == uid else None

    def get_by_client_oid(self, uid: str, client_oid: str) -> Order | None:
        """Snapshot of the latest order with this clientOid (active or done)."""
        order = self.registry.by_client_oid(uid, client_oid)
        return order.snapshot() if order is not None else None

    def orders(
        self,
        uid: str,
        *,
        status: str | None = None,
        symbol: str | None = None,
        side: Side | None = None,
        type: OrderType | None = None,
        account_type: AccountType | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        stop: bool | None = None,
    ) -> list[Order]:
        """A user's orders newest first; ``status`` is ``active``, ``done`` or None (both).

        ``stop=True`` keeps only stop orders that have not triggered (KuCoin's stop-order
        lists), ``stop=False`` everything else (the normal lists: a triggered stop is a normal
        order from then on). Waiting stops are active with status ``new``.
        """
        active = None if status is None else status == "active"
        flt = OrderFilter(symbol, side, type, account_type, start_ms, end_ms)
        return [
            o.snapshot()
            for o in self.registry.orders(uid, active, flt)
            if stop is None or o.waiting_stop is stop
        ]

    def fills(
        self,
        uid: str,
        *,
        symbol: str | None = None,
        order_id: str | None = None,
        side: Side | None = None,
        type: OrderType | None = None,
        account_type: AccountType | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> list[Fill]:
        """A user's fills, newest first."""
        flt = OrderFilter(symbol, side, type, account_type, start_ms, end_ms)
        return list(self.registry.fills(uid, order_id, flt))
