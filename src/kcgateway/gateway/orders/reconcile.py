"""Reconciliation: unknown intents settled by clientOid, strays adopted, open intents refreshed.

Nothing is ever resent under a new clientOid: a ``sent`` or ``unknown`` intent is looked up at
the exchange; found -> open/filled/cancelled; not found after the grace period -> ``not_placed``.
An order the gateway did not place is adopted (SECURITY.md section 3). The moves themselves are
:class:`~kcgateway.gateway.orders.lifecycle.Intents`'.

With several instances (:attr:`Reconciler.leases` set) each pass covers only the accounts whose
lease this instance holds, and every write it makes for one holds that lease (fenced).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import timedelta

from sqlalchemy import select

from kcgateway.errors import AccountUnusable, KcgatewayError
from kcgateway.gateway.audit import AuditAction, record
from kcgateway.gateway.event_feed import order_event
from kcgateway.gateway.orders.lifecycle import PENDING, Intents, Now, Ownership, under_lease
from kcgateway.gateway.orders.markets import SPOT
from kcgateway.gateway.orders.model import state_of
from kcgateway.gateway.reasons import NEVER_SENT
from kcgateway.gateway.venue import ActiveOrder, Venues
from kcgateway.store.database import Database
from kcgateway.store.event_log import append_events
from kcgateway.store.fastsql import CoreRunner
from kcgateway.store.fencing import Fence
from kcgateway.store.ledger import DuplicateIntent, NewIntent, OrderIntentRepository
from kcgateway.store.tables import OrderIntent
from kcgateway.store.types import OrderState

log = logging.getLogger("kcgateway.gateway.orders")
S = OrderState

#: how many intents one reconciliation pass looks up at the exchange at once
RECONCILE_CONCURRENCY = 16
#: open intents looked up per stray-scan pass (see Reconciler.refresh_open)
OPEN_REFRESH_BATCH = 200
#: intents an account's stream reconciles after a reconnect (``persisted`` ones were never sent)
UNSETTLED = (S.SENT, S.UNKNOWN, S.ACKED, S.OPEN)


class Reconciler:
    """The background passes over stored intents (and the stream's per-account pass)."""

    def __init__(
        self,
        db: Database,
        venues: Venues,
        intents: Intents,
        *,
        grace: timedelta,
        settle_after: timedelta,
        now: Now,
    ) -> None:
        self._db = db
        self._venues = venues
        self._intents = intents
        self.grace = grace
        self.settle_after = settle_after
        self._now = now
        self._open_cursor = 0  # where refresh_open's next batch starts
        #: the accounts this instance owns (None: all of them, a single instance as before)
        self.leases: Ownership | None = None

    def _mine(self, rows: Sequence[OrderIntent]) -> list[tuple[OrderIntent, Fence | None]]:
        """The rows of accounts this instance owns, each with the lease to write under."""
        if self.leases is None:
            return [(row, None) for row in rows]
        fences = {a: self.leases.fence(a) for a in {row.account_id for row in rows}}
        return [(row, fences[row.account_id]) for row in rows if fences[row.account_id]]

    async def reconcile(self) -> int:
        """One pass over unsettled intents; returns how many are still pending after it.

        Up to :data:`RECONCILE_CONCURRENCY` lookups run at once: one at a time, a pass fell
        behind order intake (each is an exchange round trip plus a commit), and acked intents
        took minutes to settle after a burst.
        """
        async with self._db.read() as session:
            rows = await OrderIntentRepository(session).in_states(PENDING)
        settled = await _each(self._mine(rows), self._reconcile_one, "reconcile deferred")
        return sum(not done for done in settled)

    async def reconcile_account(self, account_id: str, markets: Collection[str]) -> int:
        """Look up every unsettled or open intent of one account in ``markets``; how many moved.

        For the private order stream after a (re)connect (KuCoin does not replay missed
        events). Raises on the first failure (exchange down, unusable account) so the stream
        retries the whole pass later.
        """
        query = select(OrderIntent).where(
            OrderIntent.account_id == account_id,
            OrderIntent.state.in_(UNSETTLED),
            OrderIntent.market.in_(list(markets)),
        )
        async with self._db.read() as session:
            rows = (await session.scalars(query)).all()
        moved = 0
        for row in rows:
            found = await self._intents.look_up(row)  # each market by its own endpoints
            if found is not None:
                moved += bool(
                    await self._intents.apply_exchange_event(
                        account_id, row.client_oid, state_of(found), found.order_id
                    )
                )
        return moved

    async def refresh_open(self, max_lookups: int = OPEN_REFRESH_BATCH) -> int:
        """Look up to ``max_lookups`` open intents up at the exchange; returns how many moved.

        The private order stream moves open intents in real time, but not every market has a
        stream (futures) and a stream can miss an event between two reconnects. This slow
        sweep (the reconciler runs it with the stray scan) settles what it missed, a batch at
        a time, continuing where the last batch stopped so every open intent gets its turn.
        """
        async with self._db.read() as session:
            rows = self._mine(await OrderIntentRepository(session).in_states([S.OPEN]))
        if not rows:
            return 0
        start = self._open_cursor % len(rows)
        batch = (rows[start:] + rows[:start])[:max_lookups]
        self._open_cursor = start + len(batch)
        return sum(await _each(batch, self._refresh_one, "open refresh deferred"))

    async def adopt_strays(self, account_id: str) -> Sequence[str]:
        """Record exchange orders this account has that no intent knows, and raise an alert.

        SECURITY.md section 3: an order the gateway did not place (another tool using the same
        key, or a bug) is adopted as an ``open`` intent with its own clientOid, audited as
        ``order.adopted`` and logged at WARNING. Returns the adopted clientOids.
        """
        async with self._db.read() as session:
            query = select(OrderIntent.symbol, OrderIntent.client_oid, OrderIntent.market).where(
                OrderIntent.account_id == account_id
            )
            rows = (await session.execute(query)).all()
        known = {oid for _, oid, _ in rows}
        venue = await self._venues.for_account(account_id)
        adopted: list[str] = []
        for market in sorted({mk for _, _, mk in rows}):  # each market the account trades
            symbols = sorted({sym for sym, _, mk in rows if mk == market})
            for order in await self._intents.markets.of(market).active(venue, symbols):
                oid = order.client_oid or f"adopted-{order.order_id}"[:40]
                if oid not in known and await self._adopt(account_id, oid, order, market):
                    adopted.append(oid)
                    known.add(oid)
        return adopted

    async def adopt_all(self) -> int:
        """:meth:`adopt_strays` on every account that has intents; returns how many adopted."""
        async with self._db.read() as session:
            accounts = (await session.scalars(select(OrderIntent.account_id).distinct())).all()
        adopted = 0
        for account_id in accounts:
            fence = None if self.leases is None else self.leases.fence(account_id)
            if self.leases is not None and fence is None:
                continue  # another instance owns it
            try:
                with under_lease(fence):
                    adopted += len(await self.adopt_strays(account_id))
            except KcgatewayError as exc:  # e.g. a removed account
                log.info(
                    "stray scan deferred: account=%s reason=%s", account_id, type(exc).__name__
                )
        return adopted

    async def _adopt(
        self, account_id: str, client_oid: str, order: ActiveOrder, market: str = SPOT
    ) -> bool:
        now = self._now()
        log.warning("adopting an exchange order no intent knows: account=%s", account_id)
        async with self._db.write() as session:
            await self._intents.hold_lease(CoreRunner(session))  # an adoption is leased work
            repo = OrderIntentRepository(session)
            new = NewIntent(
                account_id, client_oid, order.symbol, order.side, order.order_type,
                order.price, order.size, None, state=S.OPEN, market=market,
            )  # fmt: skip
            try:
                intent_id = await repo.add(new, now=now)
            except DuplicateIntent:
                return False
            await repo.set_state(
                intent_id, expected=S.OPEN, new=S.OPEN, now=now, exchange_order_id=order.order_id
            )
            await record(
                session, AuditAction.ORDER_ADOPTED, actor="reconciler", subject=intent_id,
                now=now, detail={"client_oid": client_oid, "exchange_order_id": order.order_id,
                                 "symbol": order.symbol, "market": market},
            )  # fmt: skip
            row = await repo.get(intent_id)
            if row is not None:  # bots hear of it like of any order: order.state, open
                event = order_event(row, None, "adopted: placed at the exchange, not through us")
                await append_events(CoreRunner(session), [event], now=now)
        self._intents.notify()
        return True

    async def _reconcile_one(self, row: OrderIntent) -> bool:
        if row.id in self._intents.in_flight:
            # this process is still sending it (slow vault, a rate-limit wait, a 429 resend):
            # "not found" now says nothing, and not_placed would race the exchange's answer
            return False
        age = self._now() - row.updated_at
        if row.state is S.PERSISTED:
            # never sent (sending requires the persisted -> sent move first)
            if age <= self.grace:
                return False
            gone = await self._intents.move(
                row,
                S.PERSISTED,
                S.NOT_PLACED,
                actor="reconciler",
                reason="never sent",
                refusal=NEVER_SENT,
            )
            return gone is not None
        if row.state is S.SENT and age < self.settle_after:
            return False  # a request may still be in flight
        try:
            return await self._intents.settle(
                row, actor="reconciler", allow_not_placed=age > self.grace
            )
        except AccountUnusable as exc:  # not a passing failure: the operator must act
            await self._intents.flag(row, str(exc), actor="reconciler")
            return False

    async def _refresh_one(self, row: OrderIntent) -> bool:
        """One open intent looked up; True when the exchange moved it (filled, cancelled)."""
        try:
            found = await self._intents.look_up(row)
        except AccountUnusable as exc:
            await self._intents.flag(row, str(exc), actor="reconciler")
            return False
        return found is not None and bool(
            await self._intents.apply_found(row, found, actor="reconciler")
        )


async def _each(
    rows: Sequence[tuple[OrderIntent, Fence | None]],
    look_up: Callable[[OrderIntent], Awaitable[bool]],
    deferred: str,
) -> list[bool]:
    """``look_up`` each intent under its lease, :data:`RECONCILE_CONCURRENCY` at once.

    False where it failed: an exchange error, a removed account or a lost lease defers that
    intent to a later pass (logged with ``deferred``); the others go on.
    """
    limit = asyncio.Semaphore(RECONCILE_CONCURRENCY)

    async def one(row: OrderIntent, fence: Fence | None) -> bool:
        async with limit:
            try:
                with under_lease(fence):
                    return await look_up(row)
            except KcgatewayError as exc:  # e.g. a removed account
                log.info("%s: intent=%s reason=%s", deferred, row.id, type(exc).__name__)
                return False

    return list(await asyncio.gather(*(one(row, fence) for row, fence in rows)))
