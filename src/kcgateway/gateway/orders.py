"""Placing, cancelling and reconciling orders: exactly one exchange order per intent.

Life cycle (SECURITY.md section 3)::

    received -> risk_ok -> persisted(clientOid) -> sent -> {acked | unknown}
             -> {open | filled | cancelled | rejected | not_placed}

Invariants:

- the intent row with its clientOid (unique per account) commits BEFORE any exchange call;
- an intent is sent only by the request that inserted its (account, clientOid) row and moved
  it ``persisted -> sent`` in that same commit, so it is sent at most once by this code; the
  client resends only the same bytes (same clientOid);
- a timeout, reset, 5xx or unknown answer makes it ``unknown``; the :meth:`OrderRouter.reconcile`
  pass looks it up by clientOid: found -> open/filled/cancelled; not found after the grace
  period -> ``not_placed``. Nothing is ever resent under a new clientOid;
- every state change is a compare-and-set plus an audit record in the same transaction.

``received`` and ``risk_ok`` are checks done in memory before the row exists; the row starts
at ``persisted``. The risk check here is a PLACEHOLDER (a maximum notional per order) until the
risk engine (SECURITY.md section 4) lands.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import and_, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kcgateway.errors import AuthError, KcgatewayError, Rejected, ValidationError
from kcgateway.exchange.services.base import check_client_oid
from kcgateway.gateway.audit import AuditAction, record
from kcgateway.gateway.markets import (
    FUTURES,
    SPOT,
    SPOT_TERMS,
    MarketTerms,
    active_orders,
    cancel_intent,
    cancel_symbol,
    check_terms,
    futures_notional,
    place_intent,
    resolve_intent,
    terms_of,
)
from kcgateway.gateway.venue import AccountNotConnected, ActiveOrder, ExchangeOrder, Venues
from kcgateway.store.database import Database
from kcgateway.store.fastsql import Prepared, Runner
from kcgateway.store.ledger import (
    AuditEntry,
    DuplicateIntent,
    NewIntent,
    OrderIntentRepository,
    append_audit,
    insert_intent,
    intent_by_client_oid,
    intent_id_by_client_oid,
    move_intent,
)
from kcgateway.store.tables import ExchangeAccount, OrderIntent
from kcgateway.store.types import OrderState

log = logging.getLogger("kcgateway.gateway.orders")
Now = Callable[[], datetime]
S = OrderState

#: states the reconciler still has to settle
PENDING = (S.PERSISTED, S.SENT, S.UNKNOWN, S.ACKED)
#: how many intents one reconciliation pass looks up at the exchange at once
RECONCILE_CONCURRENCY = 16
#: open intents looked up per stray-scan pass (see OrderRouter.refresh_open)
OPEN_REFRESH_BATCH = 200
#: every allowed transition of a stored intent
TRANSITIONS: dict[OrderState, frozenset[OrderState]] = {
    S.PERSISTED: frozenset({S.SENT, S.NOT_PLACED}),
    S.SENT: frozenset({S.ACKED, S.UNKNOWN, S.REJECTED, S.NOT_PLACED, S.OPEN, S.FILLED,
                       S.CANCELLED}),
    S.UNKNOWN: frozenset({S.OPEN, S.FILLED, S.CANCELLED, S.NOT_PLACED}),
    S.ACKED: frozenset({S.OPEN, S.FILLED, S.CANCELLED}),
    S.OPEN: frozenset({S.FILLED, S.CANCELLED}),
}  # fmt: skip


class NoSuchObject(LookupError):
    """The object does not exist for this tenant (another tenant's object looks the same)."""


class RiskRejected(Exception):
    """The placeholder risk check refused the order; ``reason`` says which limit."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ClientOidTaken(Exception):
    """This clientOid already names an intent of the account; ``intent_id`` is that intent."""

    def __init__(self, intent_id: str) -> None:
        super().__init__("clientOid already used on this account")
        self.intent_id = intent_id


class NotCancellable(Exception):
    """The intent is in a state where a cancel makes no sense."""

    def __init__(self, state: OrderState) -> None:
        super().__init__(f"an order in state {state.value} cannot be cancelled")
        self.state = state


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A spot order as the API received it. ``account`` is an account id or name."""

    account: str
    symbol: str
    side: str
    order_type: str = "limit"
    price: Decimal | None = None
    size: Decimal | None = None
    funds: Decimal | None = None
    client_oid: str | None = None
    time_in_force: str | None = None
    terms: MarketTerms = SPOT_TERMS


@dataclass(frozen=True, slots=True)
class IntentView:
    """An intent as the API shows it."""

    id: str
    account_id: str
    client_oid: str
    symbol: str
    side: str
    order_type: str
    price: Decimal | None
    size: Decimal | None
    funds: Decimal | None
    state: OrderState
    exchange_order_id: str | None
    created_at: datetime
    updated_at: datetime
    terms: MarketTerms = SPOT_TERMS


def view(row: OrderIntent) -> IntentView:
    """The API view of a stored intent."""
    return IntentView(
        row.id,
        row.account_id,
        row.client_oid,
        row.symbol,
        row.side,
        row.order_type,
        row.price,
        row.size,
        row.funds,
        row.state,
        row.exchange_order_id,
        row.created_at,
        row.updated_at,
        terms_of(row),
    )


def _positive(value: Decimal | None, name: str) -> None:
    if value is not None and (not value.is_finite() or value <= 0):
        raise ValidationError(f"{name} must be a positive number", field=name)


def validate(req: OrderRequest) -> None:
    """Shape checks (``received``): raises ValidationError naming the field. Pure."""
    if req.side not in ("buy", "sell"):
        raise ValidationError("side must be buy or sell", field="side")
    for value, name in ((req.price, "price"), (req.size, "size"), (req.funds, "funds")):
        _positive(value, name)
    if req.order_type == "limit":
        if req.price is None or req.size is None or req.funds is not None:
            raise ValidationError("a limit order needs price and size (no funds)", field="price")
    elif req.order_type == "market":
        if (req.size is None) == (req.funds is None) or req.price is not None:
            raise ValidationError(
                "a market order needs size or funds (one, no price)", field="size"
            )
    else:
        raise ValidationError("type must be limit or market", field="type")
    check_client_oid(req.client_oid)


def notional(req: OrderRequest) -> Decimal | None:
    """Quote amount of the order when it is known without a price feed. Pure."""
    if req.funds is not None:
        return req.funds
    if req.price is not None and req.size is not None:
        return req.price * req.size
    return None


def risk_check(
    req: OrderRequest, max_notional: Decimal, known: Decimal | None = None
) -> str | None:
    """PLACEHOLDER risk check (``risk_ok``): a reason to refuse, or None. Pure.

    Only a maximum notional per order; a market order by size has no known notional here and
    passes. ``known`` is a notional worked out elsewhere (futures: lots times the contract's
    multiplier). The risk engine of SECURITY.md section 4 replaces this.
    """
    amount = known if known is not None else notional(req)
    if amount is not None and amount > max_notional:
        return f"notional {amount:f} exceeds the per-order maximum {max_notional:f}"
    return None


def state_of(order: ExchangeOrder) -> OrderState:
    """Where an order found at the exchange stands. Pure."""
    if order.active:
        return S.OPEN
    return S.CANCELLED if order.cancelled else S.FILLED


def idempotent_client_oid(tenant_id: str, account: str, idempotency_key: str) -> str:
    """A clientOid derived from an Idempotency-Key: concurrent retries collide on the intent."""
    digest = hashlib.sha256(f"{tenant_id}\n{account}\n{idempotency_key}".encode()).hexdigest()
    return f"ik{digest[:38]}"


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


async def _owned_account_id(ex: Runner, tenant_id: str, account: str) -> str:
    """:func:`owned_account` in one prebuilt statement (the order hot path): the account's id."""
    rows = await ex.rows(_ACCOUNT_BY_ID_OR_NAME, {"account": account, "tenant_id": tenant_id})
    # as owned_account: a match by id wins (and must be the tenant's), then a match by name
    by_id = [r for r in rows if r["id"] == account]
    row = by_id[0] if by_id else (rows[0] if rows else None)
    if row is None or row["tenant_id"] != tenant_id or row["removed_at"] is not None:
        raise NoSuchObject("account")  # a removed account trades no more (as owned_account)
    return str(row["id"])


class OrderRouter:
    """The order use cases over a database and the per-account venues."""

    def __init__(
        self,
        db: Database,
        venues: Venues,
        *,
        max_notional: Decimal,
        grace: timedelta = timedelta(seconds=30),
        settle_after: timedelta = timedelta(seconds=15),
        now: Now = lambda: datetime.now(UTC),
    ) -> None:
        self._db = db
        self._venues = venues
        self.max_notional = max_notional
        self.grace = grace
        self.settle_after = settle_after
        self._now = now
        #: told the new state each time the reconciler settles an intent (metrics)
        self.on_resolved: Callable[[str], None] | None = None
        #: intents this process is sending right now: the reconciler leaves them alone
        self._in_flight: set[str] = set()
        self._open_cursor = 0  # where refresh_open's next batch starts

    async def place(self, tenant_id: str, actor: str, req: OrderRequest) -> IntentView:
        """Validate, check risk, persist the intent, send it once, record the outcome."""
        validate(req)
        check_terms(req)
        reason = risk_check(req, self.max_notional, await self._futures_notional(tenant_id, req))
        if reason is not None:
            raise RiskRejected(reason)
        intent = await self._persist(tenant_id, actor, req)
        settled = await self._send(intent, actor, req.time_in_force)
        # the row as the outcome's UPDATE ... RETURNING gave it; re-read only if someone
        # (the reconciler) moved the intent first
        return view(settled) if settled is not None else await self._view(intent.id)

    async def _futures_notional(self, tenant_id: str, req: OrderRequest) -> Decimal | None:
        """A futures order's quote value from its contract (None for other markets)."""
        if req.terms.market != FUTURES:
            return None
        async with self._db.read() as session:
            account = await owned_account(session, tenant_id, req.account)
        venue = await self._venues.for_account(account.id)
        return futures_notional(req, await venue.client.futures.contract(req.symbol))

    async def _persist(self, tenant_id: str, actor: str, req: OrderRequest) -> OrderIntent:
        """Insert the intent and record ``persisted -> sent``, in ONE commit, before any call.

        The row is inserted directly in ``sent``: persisted and sent share the commit, so no
        reader can ever see the intent ``persisted`` (as before, when it was inserted then
        updated in the same transaction); the audit log still records both steps, chained.
        Statements: the account, ``INSERT ... ON CONFLICT DO NOTHING RETURNING``, the audit
        head, one INSERT of both audit records.
        """
        client_oid = check_client_oid(req.client_oid)
        now = self._now()
        if S.SENT not in TRANSITIONS[S.PERSISTED]:  # pragma: no cover - a table edit guard
            raise ValueError("illegal transition persisted -> sent")
        async with self._db.hot_write() as conn:
            account_id = await _owned_account_id(conn, tenant_id, req.account)
            t = req.terms
            new = NewIntent(
                account_id, client_oid, req.symbol, req.side, req.order_type,
                req.price, req.size, req.funds, state=S.SENT, market=t.market,
                margin_mode=t.margin_mode, leverage=t.leverage, reduce_only=t.reduce_only,
                close_order=t.close_order, auto_borrow=t.auto_borrow, auto_repay=t.auto_repay,
            )  # fmt: skip
            row = await insert_intent(conn, new, now=now)
            if row is None:  # this (account, clientOid) is another intent's
                existing = await intent_id_by_client_oid(conn, account_id, client_oid)
                raise ClientOidTaken(existing or "")
            # only the request that inserted the (account, clientOid) row sends it, and it is
            # committed before the call
            sent = {"from": S.PERSISTED.value, "to": S.SENT.value, "client_oid": client_oid}
            await append_audit(
                conn,
                [
                    AuditEntry(actor, AuditAction.ORDER_INTENT.value, row.id,
                               _intent_detail(row), tenant_id),
                    AuditEntry(actor, AuditAction.ORDER_STATE.value, row.id, sent),
                ],
                now=now,
            )  # fmt: skip
            return row

    async def _send(
        self, intent: OrderIntent, actor: str, time_in_force: str | None
    ) -> OrderIntent | None:
        """Send once; the row after its outcome was recorded (None: someone moved it first)."""
        self._in_flight.add(intent.id)
        try:
            return await self._send_once(intent, actor, time_in_force)
        finally:
            self._in_flight.discard(intent.id)

    async def _send_once(
        self, intent: OrderIntent, actor: str, time_in_force: str | None
    ) -> OrderIntent | None:
        venue = await self._venues.for_account(intent.account_id)
        try:
            placed = await place_intent(venue, intent, time_in_force)
        except (Rejected, AuthError, ValidationError) as exc:
            return await self._moved(intent, S.SENT, S.REJECTED, actor=actor, reason=_code(exc))
        except Exception as exc:  # unsure whether it exists: reconcile, never resend
            log.info("order outcome unknown: intent=%s reason=%s", intent.id, type(exc).__name__)
            return await self._moved(intent, S.SENT, S.UNKNOWN, actor=actor, reason=_code(exc))
        return await self._moved(intent, S.SENT, S.ACKED, actor=actor, exchange_id=placed.order_id)

    async def _move(
        self,
        intent: OrderIntent,
        expected: OrderState,
        new: OrderState,
        *,
        actor: str,
        exchange_id: str | None = None,
        reason: str | None = None,
    ) -> bool:
        """Compare-and-set one transition plus its audit record; False if someone moved first."""
        moved = await self._moved(
            intent, expected, new, actor=actor, exchange_id=exchange_id, reason=reason
        )
        return moved is not None

    async def _moved(
        self,
        intent: OrderIntent,
        expected: OrderState,
        new: OrderState,
        *,
        actor: str,
        exchange_id: str | None = None,
        reason: str | None = None,
    ) -> OrderIntent | None:
        """:meth:`_move` returning the row as updated (None if someone moved first).

        Not waited for on disk (``durable=False``, see :meth:`Database.hot_write`): a move
        records what the exchange said (or decided from it), never precedes a call to it, and
        a power loss that drops it leaves the intent where it was, for the reconciler to settle
        again from the exchange. Only the intent itself (:meth:`_persist`) must be durable.
        """
        async with self._db.hot_write(durable=False) as conn:
            row = await self._transition(
                conn, intent, expected, new, actor=actor, now=self._now(),
                exchange_id=exchange_id, reason=reason,
            )  # fmt: skip
        if row is not None and actor == "reconciler" and self.on_resolved is not None:
            self.on_resolved(new.value)
        return row

    @staticmethod
    async def _transition(
        ex: Runner,
        intent: OrderIntent,
        expected: OrderState,
        new: OrderState,
        *,
        actor: str,
        now: datetime,
        exchange_id: str | None = None,
        reason: str | None = None,
    ) -> OrderIntent | None:
        if new not in TRANSITIONS.get(expected, frozenset()):
            raise ValueError(f"illegal transition {expected} -> {new}")
        moved = await move_intent(
            ex, intent.id, expected=expected, new=new, now=now, exchange_order_id=exchange_id
        )
        if moved is not None:
            detail = {"from": expected.value, "to": new.value, "client_oid": intent.client_oid}
            if exchange_id:
                detail["exchange_order_id"] = exchange_id
            if reason:
                detail["reason"] = reason
            entry = AuditEntry(actor, AuditAction.ORDER_STATE.value, intent.id, detail)
            await append_audit(ex, [entry], now=now)
        return moved

    async def apply_exchange_event(
        self, account_id: str, client_oid: str, state: OrderState, order_id: str
    ) -> bool | None:
        """Move the account's intent with ``client_oid`` to ``state``, as the exchange reported.

        For the private order stream and its reconciliation (``gateway/events.py``): the same
        compare-and-set plus audit as every move. None: no intent has this clientOid (a stray);
        False: the intent is already there or past it (events come late or twice); True: moved.
        """
        for _ in range(3):  # a concurrent move (e.g. the placing request's ack) may win a race
            async with self._db.hot_read() as conn:  # one per event: the hot path's reader
                row = await intent_by_client_oid(conn, account_id, client_oid)
            if row is None:
                return None
            if state not in TRANSITIONS.get(row.state, frozenset()):
                return False
            if await self._move(row, row.state, state, actor="stream", exchange_id=order_id):
                return True
        return False

    async def _view(self, intent_id: str) -> IntentView:
        async with self._db.read() as session:
            row = await OrderIntentRepository(session).get(intent_id)
        if row is None:
            raise NoSuchObject("order")
        return view(row)

    async def _owned_intent(
        self, tenant_id: str, intent_id: str, market: str | None = None
    ) -> OrderIntent:
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

    async def get(self, tenant_id: str, intent_id: str, market: str | None = None) -> IntentView:
        """One of the tenant's intents, refreshed from the exchange when it may have moved.

        ``market`` (spot | margin | futures) limits the lookup to that market's intents.
        """
        row = await self._owned_intent(tenant_id, intent_id, market)
        if row.state in (S.ACKED, S.OPEN):
            try:
                await self._settle(row, actor="gateway")
            except KcgatewayError as exc:  # the stored state is still a true (older) answer
                log.info("order refresh skipped: intent=%s reason=%s", row.id, type(exc).__name__)
        return await self._view(row.id)

    async def by_client_oid(
        self, tenant_id: str, client_oid: str, market: str | None = None
    ) -> IntentView:
        """The tenant's intent with this clientOid (any of its accounts; in ``market`` if given)."""
        query = (
            select(OrderIntent.id)
            .join(ExchangeAccount, ExchangeAccount.id == OrderIntent.account_id)
            .where(OrderIntent.client_oid == client_oid, ExchangeAccount.tenant_id == tenant_id)
        )
        if market is not None:
            query = query.where(OrderIntent.market == market)
        async with self._db.read() as session:
            intent_id = await session.scalar(query)
        if intent_id is None:
            raise NoSuchObject("order")
        return await self._view(intent_id)

    async def list(
        self,
        tenant_id: str,
        *,
        limit: int = 100,
        account: str | None = None,
        states: Sequence[OrderState] = (),
        market: str | None = None,
    ) -> list[IntentView]:
        """The tenant's intents, newest first.

        Optionally of one account (id or name; NoSuchObject when it is not the tenant's), in the
        given states only, and of ``market`` only.
        """
        query = (
            select(OrderIntent)
            .join(ExchangeAccount, ExchangeAccount.id == OrderIntent.account_id)
            .where(ExchangeAccount.tenant_id == tenant_id)
            .order_by(OrderIntent.created_at.desc(), OrderIntent.id)
            .limit(limit)
        )
        if states:
            query = query.where(OrderIntent.state.in_(states))
        if market is not None:
            query = query.where(OrderIntent.market == market)
        async with self._db.read() as session:
            if account is not None:
                owned = await owned_account(session, tenant_id, account, include_removed=True)
                query = query.where(OrderIntent.account_id == owned.id)
            return [view(r) for r in (await session.scalars(query)).all()]

    async def cancel(
        self, tenant_id: str, intent_id: str, actor: str, market: str | None = SPOT
    ) -> IntentView:
        """Ask the exchange to cancel (by clientOid), then record what it says.

        Only an intent of ``market`` (spot by default: the spot routes' trade:spot scope must
        not cancel margin or futures orders); ``None`` accepts any market.
        """
        row = await self._owned_intent(tenant_id, intent_id, market)
        if row.state not in (S.ACKED, S.OPEN):
            raise NotCancellable(row.state)
        async with self._db.write() as session:
            await record(
                session, AuditAction.ORDER_CANCEL, actor=actor, subject=row.id,
                now=self._now(), tenant_id=tenant_id, detail={"client_oid": row.client_oid},
            )  # fmt: skip
        venue = await self._venues.for_account(row.account_id)
        await cancel_intent(venue, row)
        await self._settle(row, actor=actor)
        return await self._view(row.id)

    async def cancel_symbol(
        self, tenant_id: str, account: str, symbol: str, actor: str, market: str = SPOT
    ) -> Sequence[IntentView]:
        """Cancel every open order of the account on ``symbol`` in ``market`` at the exchange.

        One exchange call (cancel-all for the symbol, which also reaches orders no intent
        knows), one audit record, then each of the account's acked/open intents on the symbol
        is settled by clientOid. Returns those intents as they stand afterwards.
        """
        async with self._db.write() as session:
            row = await owned_account(session, tenant_id, account)
            await record(
                session, AuditAction.ORDER_CANCEL, actor=actor, subject=row.id,
                now=self._now(), tenant_id=tenant_id,
                detail={"symbol": symbol, "market": market, "all": True},
            )  # fmt: skip
        venue = await self._venues.for_account(row.id)
        await cancel_symbol(venue, market, symbol)
        query = select(OrderIntent).where(
            OrderIntent.account_id == row.id,
            OrderIntent.market == market,
            OrderIntent.symbol == symbol,
            OrderIntent.state.in_([S.ACKED, S.OPEN]),
        )
        async with self._db.read() as session:
            intents = (await session.scalars(query)).all()
        for intent in intents:
            try:
                await self._settle(intent, actor=actor)
            except KcgatewayError as exc:  # the reconciler settles it later
                log.info(
                    "cancel settle deferred: intent=%s reason=%s", intent.id, type(exc).__name__
                )
        return [await self._view(intent.id) for intent in intents]

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
            for order in await active_orders(venue, market, symbols):
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
            try:
                adopted += len(await self.adopt_strays(account_id))
            except (KcgatewayError, AccountNotConnected) as exc:  # e.g. a removed account
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
        return True

    async def reconcile(self) -> int:
        """One pass over unsettled intents; returns how many are still pending after it.

        Up to :data:`RECONCILE_CONCURRENCY` lookups run at once: one at a time, a pass fell
        behind order intake (each is an exchange round trip plus a commit), and acked intents
        took minutes to settle after a burst.
        """
        async with self._db.read() as session:
            rows = await OrderIntentRepository(session).in_states(PENDING)
        settled = await _each(rows, self._reconcile_one, "reconcile deferred")
        return sum(not done for done in settled)

    async def refresh_open(self, max_lookups: int = OPEN_REFRESH_BATCH) -> int:
        """Look up to ``max_lookups`` open intents up at the exchange; returns how many moved.

        The private order stream moves open intents in real time, but not every market has a
        stream (futures) and a stream can miss an event between two reconnects. This slow
        sweep (the reconciler runs it with the stray scan) settles what it missed, a batch at
        a time, continuing where the last batch stopped so every open intent gets its turn.
        """
        async with self._db.read() as session:
            rows = list(await OrderIntentRepository(session).in_states([S.OPEN]))
        if not rows:
            return 0
        start = self._open_cursor % len(rows)
        batch = (rows[start:] + rows[:start])[:max_lookups]
        self._open_cursor = start + len(batch)
        return sum(await _each(batch, self._refresh_one, "open refresh deferred"))

    async def _reconcile_one(self, row: OrderIntent) -> bool:
        if row.id in self._in_flight:
            # this process is still sending it (slow vault, a rate-limit wait, a 429 resend):
            # "not found" now says nothing, and not_placed would race the exchange's answer
            return False
        age = self._now() - row.updated_at
        if row.state is S.PERSISTED:
            # never sent (sending requires the persisted -> sent move first)
            return age > self.grace and await self._move(
                row, S.PERSISTED, S.NOT_PLACED, actor="reconciler", reason="never sent"
            )
        if row.state is S.SENT and age < self.settle_after:
            return False  # a request may still be in flight
        return await self._settle(row, actor="reconciler", allow_not_placed=age > self.grace)

    async def _settle(
        self, row: OrderIntent, *, actor: str, allow_not_placed: bool = False
    ) -> bool:
        """Look the clientOid up and move the intent accordingly; True when it is settled."""
        venue = await self._venues.for_account(row.account_id)
        found = await resolve_intent(venue, row)
        if found is None:
            if not allow_not_placed or row.state not in (S.SENT, S.UNKNOWN):
                return False
            return await self._move(
                row, row.state, S.NOT_PLACED, actor=actor, reason="not found after grace"
            )
        moved = await self._apply_found(row, found, actor=actor)
        return row.state is not S.ACKED if moved is None else moved

    async def _apply_found(
        self, row: OrderIntent, found: ExchangeOrder, *, actor: str
    ) -> bool | None:
        """Move the intent to where the exchange says it is; None when it is already there."""
        target = state_of(found)
        if target is row.state:
            return None
        return await self._move(row, row.state, target, actor=actor, exchange_id=found.order_id)

    async def _refresh_one(self, row: OrderIntent) -> bool:
        """One open intent looked up; True when the exchange moved it (filled, cancelled)."""
        venue = await self._venues.for_account(row.account_id)
        found = await resolve_intent(venue, row)
        return found is not None and bool(await self._apply_found(row, found, actor="reconciler"))


async def _each(
    rows: Sequence[OrderIntent],
    look_up: Callable[[OrderIntent], Awaitable[bool]],
    deferred: str,
) -> list[bool]:
    """``look_up`` each intent, :data:`RECONCILE_CONCURRENCY` at once; False where it failed.

    An exchange error or a removed account defers that intent to a later pass (logged with
    ``deferred``); the others go on.
    """
    limit = asyncio.Semaphore(RECONCILE_CONCURRENCY)

    async def one(row: OrderIntent) -> bool:
        async with limit:
            try:
                return await look_up(row)
            except (KcgatewayError, AccountNotConnected) as exc:  # e.g. a removed account
                log.info("%s: intent=%s reason=%s", deferred, row.id, type(exc).__name__)
                return False

    return list(await asyncio.gather(*(one(row) for row in rows)))


def _code(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    return f"{type(exc).__name__}:{code}" if code else type(exc).__name__


def _intent_detail(row: OrderIntent) -> dict[str, str | None]:
    def text(v: Decimal | None) -> str | None:
        return None if v is None else str(v)

    return {
        "account_id": row.account_id,
        "client_oid": row.client_oid,
        "symbol": row.symbol,
        "side": row.side,
        "type": row.order_type,
        "price": text(row.price),
        "size": text(row.size),
        "funds": text(row.funds),
        "market": row.market,
    }
