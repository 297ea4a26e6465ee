"""The intent state machine: every move of a stored intent, and where the tenant's rows are.

Life cycle (SECURITY.md section 3)::

    received -> risk_ok -> persisted(clientOid) -> sent -> {acked | unknown}
             -> {open | filled | cancelled | rejected | not_placed}

Every state change is a compare-and-set plus an audit record in the same transaction
(:meth:`Intents.move`). Placement (``router.py``), reconciliation (``reconcile.py``) and the
private order stream (``gateway/events.py``) all move intents through this module; it calls
none of them.

Fencing (several instances, ``gateway/cluster/leases.py``): the reconciler and the stream do an
account's work under that account's lease (:func:`under_lease`); every write they make here then
first holds the lease in the same transaction (:func:`kcgateway.store.fencing.hold`) and is
refused with :class:`~kcgateway.errors.LeaseLost` once another instance took it. Placement is
never leased: any instance places orders, the intent rows keep them exactly-once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Protocol

from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kcgateway.errors import AccountUnusable, CredentialUnreadable, LeaseLost, NoSuchObject
from kcgateway.gateway.audit import AuditAction, record
from kcgateway.gateway.event_feed import order_event
from kcgateway.gateway.orders.markets import Markets
from kcgateway.gateway.orders.model import IntentView, state_of, view
from kcgateway.gateway.reasons import NOT_FOUND_AFTER_GRACE, Reason
from kcgateway.gateway.venue import ExchangeOrder, Venues
from kcgateway.store.database import Database
from kcgateway.store.event_log import NewEvent, append_events
from kcgateway.store.fastsql import CoreRunner, Prepared, Runner
from kcgateway.store.fencing import Fence, hold
from kcgateway.store.ledger import (
    AuditEntry,
    OrderIntentRepository,
    append_audit,
    intent_by_client_oid,
    move_intent,
)
from kcgateway.store.tables import ExchangeAccount, OrderIntent
from kcgateway.store.types import OrderState

log = logging.getLogger("kcgateway.gateway.orders")
Now = Callable[[], datetime]
S = OrderState

#: states the reconciler still has to settle
PENDING = (S.PERSISTED, S.SENT, S.UNKNOWN, S.ACKED)
#: every allowed transition of a stored intent
TRANSITIONS: dict[OrderState, frozenset[OrderState]] = {
    S.PERSISTED: frozenset({S.SENT, S.NOT_PLACED}),
    S.SENT: frozenset({S.ACKED, S.UNKNOWN, S.REJECTED, S.NOT_PLACED, S.OPEN, S.FILLED,
                       S.CANCELLED}),
    S.UNKNOWN: frozenset({S.OPEN, S.FILLED, S.CANCELLED, S.NOT_PLACED}),
    S.ACKED: frozenset({S.OPEN, S.FILLED, S.CANCELLED}),
    S.OPEN: frozenset({S.FILLED, S.CANCELLED}),
}  # fmt: skip


#: the lease the current task works under (None: unleased, e.g. placement or a single process)
_LEASE: ContextVar[Fence | None] = ContextVar("kcgateway_lease", default=None)


class Ownership(Protocol):
    """Which accounts this instance works on in the background (``gateway/cluster/leases.py``)."""

    def fence(self, account_id: str) -> Fence | None:
        """The lease this instance holds on the account now, or None (another one owns it)."""
        ...


@contextmanager
def under_lease(fence: Fence | None) -> Iterator[None]:
    """Writes of :class:`Intents` inside this block hold ``fence`` (None: no lease, as before)."""
    token = _LEASE.set(fence)
    try:
        yield
    finally:
        _LEASE.reset(token)


async def owned_account(
    session: AsyncSession, tenant_id: str, account: str, *, include_removed: bool = False
) -> ExchangeAccount:
    """The tenant's account by id or name; NoSuchObject otherwise (also for other tenants').

    A removed account (`accounts remove`) is not found unless ``include_removed`` (its history).
    """
    row = await session.get(ExchangeAccount, account)
    if row is None:
        query = select(ExchangeAccount).where(
            ExchangeAccount.tenant_id == tenant_id, ExchangeAccount.name == account
        )
        row = await session.scalar(query)
    if row is None or row.tenant_id != tenant_id:
        raise NoSuchObject("account")
    if row.removed_at is not None and not include_removed:
        raise NoSuchObject("account")
    return row


_ACCOUNTS = ExchangeAccount.__table__.c
#: prebuilt (a statement object keeps its cache key): the account by id, or by name in a tenant
_ACCOUNT_BY_ID_OR_NAME = Prepared(
    select(_ACCOUNTS.id, _ACCOUNTS.tenant_id, _ACCOUNTS.removed_at).where(
        or_(
            _ACCOUNTS.id == bindparam("account", type_=_ACCOUNTS.id.type),
            and_(
                _ACCOUNTS.tenant_id == bindparam("tenant_id", type_=_ACCOUNTS.tenant_id.type),
                _ACCOUNTS.name == bindparam("account", type_=_ACCOUNTS.name.type),
            ),
        )
    )
)


async def owned_account_id(ex: Runner, tenant_id: str, account: str) -> str:
    """:func:`owned_account` in one prebuilt statement (the order hot path): the account's id."""
    rows = await ex.rows(_ACCOUNT_BY_ID_OR_NAME, {"account": account, "tenant_id": tenant_id})
    # as owned_account: a match by id wins (and must be the tenant's), then a match by name
    by_id = [r for r in rows if r["id"] == account]
    row = by_id[0] if by_id else (rows[0] if rows else None)
    if row is None or row["tenant_id"] != tenant_id or row["removed_at"] is not None:
        raise NoSuchObject("account")  # a removed account trades no more (as owned_account)
    return str(row["id"])


@contextmanager
def signing_for(account_id: str) -> Iterator[None]:
    """Calls on an account's venue: an unreadable credential becomes :class:`AccountUnusable`.

    The vault names the credential, not the account; the operator (and the caller's error)
    needs the account.
    """
    try:
        yield
    except CredentialUnreadable as exc:
        raise AccountUnusable(
            account_id, reason=f"its stored credential cannot be decrypted ({exc.reason})"
        ) from exc


class Intents:
    """Stored intents: their moves (compare-and-set plus audit) and the tenant's lookups."""

    def __init__(self, db: Database, venues: Venues, markets: Markets, now: Now) -> None:
        self._db = db
        self._venues = venues
        self.markets = markets
        self._now = now
        #: told the new state each time the reconciler settles an intent (metrics)
        self.on_resolved: Callable[[str], None] | None = None
        #: intents this process is sending right now: the reconciler leaves them alone
        self.in_flight: set[str] = set()
        #: called after each commit that appended events (wakes the event followers)
        self.notify: Callable[[], None] = _nothing
        #: called for each write refused because its lease epoch was stale (metrics)
        self.on_stale_epoch: Callable[[], None] = _nothing

    async def hold_lease(self, ex: Runner) -> None:
        """Hold the current task's lease (if any) in ``ex``'s transaction; see :func:`hold`."""
        fence = _LEASE.get()
        if fence is None:
            return
        try:
            await hold(ex, fence)
        except LeaseLost:
            log.warning(
                "write refused: stale lease epoch %s on account %s", fence.epoch, fence.account_id
            )
            self.on_stale_epoch()
            raise

    async def move(
        self,
        intent: OrderIntent,
        expected: OrderState,
        new: OrderState,
        *,
        actor: str,
        exchange_id: str | None = None,
        reason: str | None = None,
        refusal: Reason | None = None,
    ) -> OrderIntent | None:
        """Compare-and-set one transition plus its audit record, in one commit.

        Returns the row as updated, or None if someone moved the intent first. ``reason`` is
        the audit's short reason; ``refusal`` why a refused intent was refused (kept on it).

        Not waited for on disk (``durable=False``, see :meth:`Database.hot_write`): a move
        records what the exchange said (or decided from it), never precedes a call to it, and
        a power loss that drops it leaves the intent where it was, for the reconciler to settle
        again from the exchange. Only the intent itself (the router's persist) must be durable.
        """
        async with self._db.hot_write(durable=False) as conn:
            await self.hold_lease(conn)
            row = await transition(
                conn, intent, expected, new, actor=actor, now=self._now(),
                exchange_id=exchange_id, reason=reason, refusal=refusal,
            )  # fmt: skip
        if row is not None:
            self.notify()
        if row is not None and actor == "reconciler" and self.on_resolved is not None:
            self.on_resolved(new.value)
        return row

    async def report(self, events: Sequence[NewEvent]) -> None:
        """Append events that no stored change carries (fills) in a transaction of their own."""
        if events:
            async with self._db.hot_write(durable=False) as conn:
                await self.hold_lease(conn)
                await append_events(conn, events, now=self._now())
            self.notify()

    async def look_up(self, row: OrderIntent) -> ExchangeOrder | None:
        """The intent's order at the exchange (by clientOid, through its market)."""
        with signing_for(row.account_id):
            venue = await self._venues.for_account(row.account_id)
            return await self.markets.of(row.market).resolve(venue, row)

    async def flag(self, row: OrderIntent, reason: str, *, actor: str) -> bool:
        """Mark the intent for the operator (once per reason), with an audit record.

        For what the gateway cannot settle on its own (its account cannot sign). The flag
        shows in every view of the intent and is cleared by its next move. True if newly set.
        """
        if row.attention == reason:
            return False
        query = (
            update(OrderIntent)
            .where(OrderIntent.id == row.id, OrderIntent.state == row.state)
            .values(attention=reason)
        )
        async with self._db.write() as session:
            await self.hold_lease(CoreRunner(session))
            done = await session.execute(query)
            if not getattr(done, "rowcount", 0):
                return False  # moved meanwhile: the move answered it
            await record(
                session, AuditAction.ORDER_NEEDS_OPERATOR, actor=actor, subject=row.id,
                now=self._now(), detail={"client_oid": row.client_oid, "reason": reason,
                                         "state": row.state.value},
            )  # fmt: skip
        log.warning("order needs the operator: intent=%s reason=%s", row.id, reason)
        return True

    async def settle(self, row: OrderIntent, *, actor: str, allow_not_placed: bool = False) -> bool:
        """Look the clientOid up and move the intent accordingly; True when it is settled."""
        found = await self.look_up(row)
        if found is None:
            if not allow_not_placed or row.state not in (S.SENT, S.UNKNOWN):
                return False
            gone = await self.move(
                row,
                row.state,
                S.NOT_PLACED,
                actor=actor,
                reason="not found after grace",
                refusal=NOT_FOUND_AFTER_GRACE,
            )
            return gone is not None
        moved = await self.apply_found(row, found, actor=actor)
        return row.state is not S.ACKED if moved is None else moved

    async def apply_found(
        self, row: OrderIntent, found: ExchangeOrder, *, actor: str
    ) -> bool | None:
        """Move the intent to where the exchange says it is; None when it is already there."""
        target = state_of(found)
        if target is row.state:
            return None
        moved = await self.move(row, row.state, target, actor=actor, exchange_id=found.order_id)
        return moved is not None

    async def apply_exchange_event(
        self, account_id: str, client_oid: str, state: OrderState, order_id: str
    ) -> bool | None:
        """Move the account's intent with ``client_oid`` to ``state``, as the exchange reported.

        For the private order stream and reconciliation: the same compare-and-set plus audit as
        every move. None: no intent has this clientOid (a stray); False: the intent is already
        there or past it (events come late or twice); True: moved.
        """
        for _ in range(3):  # a concurrent move (e.g. the placing request's ack) may win a race
            async with self._db.hot_read() as conn:  # one per event: the hot path's reader
                row = await intent_by_client_oid(conn, account_id, client_oid)
            if row is None:
                return None
            if state not in TRANSITIONS.get(row.state, frozenset()):
                return False
            if await self.move(row, row.state, state, actor="stream", exchange_id=order_id):
                return True
        return False

    async def view_of(self, intent_id: str) -> IntentView:
        """The stored intent as the API shows it."""
        async with self._db.read() as session:
            row = await OrderIntentRepository(session).get(intent_id)
        if row is None:
            raise NoSuchObject("order")
        return view(row)

    async def owned(self, tenant_id: str, intent_id: str, market: str | None = None) -> OrderIntent:
        """One of the tenant's intents (of ``market`` if given); NoSuchObject otherwise."""
        query = (
            select(OrderIntent)
            .join(ExchangeAccount, ExchangeAccount.id == OrderIntent.account_id)
            .where(OrderIntent.id == intent_id, ExchangeAccount.tenant_id == tenant_id)
        )
        async with self._db.read() as session:
            row = await session.scalar(query)
        if row is None or (market is not None and row.market != market):
            raise NoSuchObject("order")
        return row


async def transition(
    ex: Runner,
    intent: OrderIntent,
    expected: OrderState,
    new: OrderState,
    *,
    actor: str,
    now: datetime,
    exchange_id: str | None = None,
    reason: str | None = None,
    refusal: Reason | None = None,
) -> OrderIntent | None:
    """One transition's compare-and-set, audit record and event, in ``ex``'s transaction.

    The ``order.state`` event is appended with the move; the caller wakes the event followers
    after the commit.
    """
    if new not in TRANSITIONS.get(expected, frozenset()):
        raise ValueError(f"illegal transition {expected} -> {new}")
    moved = await move_intent(
        ex, intent.id, expected=expected, new=new, now=now, exchange_order_id=exchange_id,
        reason=refusal.to_json() if refusal is not None else None,
    )  # fmt: skip
    if moved is not None:
        detail = {"from": expected.value, "to": new.value, "client_oid": intent.client_oid}
        if exchange_id:
            detail["exchange_order_id"] = exchange_id
        if reason:
            detail["reason"] = reason
        entry = AuditEntry(actor, AuditAction.ORDER_STATE.value, intent.id, detail)
        await append_audit(ex, [entry], now=now)
        await append_events(ex, [order_event(moved, expected, reason)], now=now)
    return moved


def _nothing() -> None:
    """No event follower to wake (an :class:`Intents` built without an event feed)."""
