"""Placing, cancelling and querying orders: exactly one exchange order per intent.

An order's trip enters each room once: :meth:`OrderRouter.place` validates the request, asks its
market (``markets.py``) to check and value it, checks the placeholder limit, persists the intent
and sends it through the same market, then records the outcome (``lifecycle.py``).

Invariants (SECURITY.md section 3):

- the intent row with its clientOid (unique per account) commits BEFORE any exchange call;
- an intent is sent only by the request that inserted its (account, clientOid) row and moved
  it ``persisted -> sent`` in that same commit, so it is sent at most once by this code; the
  client resends only the same bytes (same clientOid);
- a timeout, reset, 5xx or unknown answer makes it ``unknown``; reconciliation
  (``reconcile.py``) looks it up by clientOid. Nothing is ever resent under a new clientOid;
- every state change is a compare-and-set plus an audit record in the same transaction.

``received`` and ``risk_ok`` are checks done before the row exists; the row starts at
``persisted``. ``risk_ok`` is the risk engine (:attr:`OrderRouter.risk`,
``docs/risk_engine.md``): every order, from every front end, is checked with its tenant,
account, key and source address; a refusal carries every failed check
(:class:`~kcgateway.errors.RiskRejected`); an amended order (a market order turned into an IOC
limit at the collar) is what is sent; an accepted order is recorded for the rate, duplicate and
detector windows. Cancels never go through the engine. A router built without an engine (unit
tests of the order path) falls back to the maximum notional per order, refusing what it cannot
value.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from kcgateway.errors import (
    AccountUnusable,
    AmbiguousClientOid,
    AuthError,
    ClientOidTaken,
    KcgatewayError,
    LocalError,
    NoSuchObject,
    NotCancellable,
    Rejected,
    RiskRejected,
)
from kcgateway.exchange.services.base import check_client_oid
from kcgateway.gateway.audit import AuditAction, record
from kcgateway.gateway.event_feed import order_event
from kcgateway.gateway.orders import listing
from kcgateway.gateway.orders.lifecycle import (
    TRANSITIONS,
    Intents,
    Now,
    owned_account,
    owned_account_id,
    signing_for,
)
from kcgateway.gateway.orders.listing import OrderQuery, Page
from kcgateway.gateway.orders.markets import SPOT, Market, Markets
from kcgateway.gateway.orders.model import (
    IntentView,
    OrderRequest,
    intent_detail,
    risk_check,
    validate,
    view,
)
from kcgateway.gateway.orders.pretrade import (
    account_unknown,
    amended_request,
    proposed,
    rejection,
)
from kcgateway.gateway.orders.reconcile import Reconciler
from kcgateway.gateway.orders.sweep import OpenOrderSweep
from kcgateway.gateway.reasons import reason_of
from kcgateway.gateway.venue import Venues
from kcgateway.store.database import Database
from kcgateway.store.event_log import append_events
from kcgateway.store.ledger import (
    AuditEntry,
    NewIntent,
    append_audit,
    insert_intent,
    intent_id_by_client_oid,
)
from kcgateway.store.tables import ExchangeAccount, OrderIntent
from kcgateway.store.types import OrderState

if TYPE_CHECKING:
    from kcgateway.exchange.rest import KuCoinClient
    from kcgateway.gateway.risk_control.views import CancelReport
    from kcgateway.gateway.risk_engine import RiskEngine
    from kcgateway.risk import Level

log = logging.getLogger("kcgateway.gateway.orders")
S = OrderState
_Query = TypeVar("_Query", bound="Select[*tuple[Any, ...]]")


class OrderRouter:
    """The order use cases over a database and the per-account venues.

    ``quotes`` is a public market-data client, used to value orders the request does not price
    (a market order by size; a linear futures market order). Without it such orders are
    refused. ``markets`` holds the market objects (the futures contract cache lives there).
    """

    def __init__(
        self,
        db: Database,
        venues: Venues,
        *,
        max_notional: Decimal,
        grace: timedelta = timedelta(seconds=30),
        settle_after: timedelta = timedelta(seconds=15),
        now: Now = lambda: datetime.now(UTC),
        quotes: KuCoinClient | None = None,
        markets: Markets | None = None,
        risk: RiskEngine | None = None,
    ) -> None:
        self._db = db
        #: the pre-trade risk engine every order passes (set by ``build_services``)
        self.risk = risk
        self._venues = venues
        self.max_notional = max_notional
        self._now = now
        self._quotes = quotes
        self.markets = markets or Markets()
        self.intents = Intents(db, venues, self.markets, now)
        self.reconciler = Reconciler(
            db, venues, self.intents, grace=grace, settle_after=settle_after, now=now
        )
        self.sweep = OpenOrderSweep(db, venues, self.markets, self.intents, now)

    @property
    def on_resolved(self) -> Callable[[str], None] | None:
        """Told the new state each time the reconciler settles an intent (metrics)."""
        return self.intents.on_resolved

    @on_resolved.setter
    def on_resolved(self, hook: Callable[[str], None] | None) -> None:
        self.intents.on_resolved = hook

    # -- placing --------------------------------------------------------------------------

    async def place(
        self,
        tenant_id: str,
        actor: str,
        req: OrderRequest,
        *,
        key_id: str | None = None,
        source_ip: str | None = None,
    ) -> IntentView:
        """Validate, check risk, persist the intent, send it once, record the outcome.

        ``key_id`` is the acting gateway key (``actor`` when not given: the web layer's actor
        is the key id); ``source_ip`` the caller's address (the detector's new-IP signal).
        """
        validate(req)
        market = self.markets.of(req.terms.market)
        market.check(req)
        if self.risk is None:
            await self._check_risk(market, req)
            account_id = req.account
        else:
            account_id = await self._account_id(tenant_id, req.account)
            req = await self._check_engine(
                self.risk, tenant_id, account_id, key_id or actor, source_ip, req
            )
        intent = await self._persist(tenant_id, actor, req, account_id)
        settled = await self._send(market, intent, actor, req.time_in_force)
        # the row as the outcome's UPDATE ... RETURNING gave it; re-read only if someone
        # (the reconciler) moved the intent first
        return view(settled) if settled is not None else await self.intents.view_of(intent.id)

    async def _account_id(self, tenant_id: str, account: str) -> str:
        """The id of the tenant's account (by id or name); NoSuchObject otherwise."""
        async with self._db.hot_read() as runner:
            return await owned_account_id(runner, tenant_id, account)

    async def _check_engine(  # noqa: PLR0917 - who, where, from where, what
        self,
        engine: RiskEngine,
        tenant_id: str,
        account_id: str,
        key_id: str,
        source_ip: str | None,
        req: OrderRequest,
    ) -> OrderRequest:
        """The engine's decision: RiskRejected with every failure, or the order to send.

        The accepted order is recorded at once (before any other await), so concurrent orders
        of one key see each other in the rate and duplicate windows.
        """
        now = self._now()
        order = proposed(req, tenant_id, account_id, key_id)
        decision = await engine.check(
            order, tenant=tenant_id, account_id=account_id, key_id=key_id, source_ip=source_ip,
            now=now,
        )  # fmt: skip
        if not decision.allowed:
            if req.client_oid is not None:
                # a resend under the same clientOid is the same intent, not a new order: a
                # retry after a lost answer or a restart gets that intent (or 409), never a
                # refusal of an order that was already accepted and sent
                await self._refuse_taken(account_id, req.client_oid)
            if account_unknown(decision, account_id):
                await self._probe_signing(account_id)
            raise rejection(decision)
        sent = decision.order or order
        engine.record_submission(sent, notional=decision.notional, source_ip=source_ip, now=now)
        return amended_request(req, sent) if decision.amended else req

    async def _probe_signing(self, account_id: str) -> None:
        """AccountUnusable (which says why and whose) when the account cannot sign at all.

        Only on a refusal for the account's missing figures: a credential that cannot be
        decrypted, or a key (or broker key) the exchange refuses (AuthError, with its code),
        is the operator's to fix, which "balances missing" would hide.
        """
        try:
            with signing_for(account_id):
                venue = await self._venues.for_account(account_id)
                await venue.balances()
        except (AccountUnusable, AuthError):  # cannot sign, or the exchange refuses the key
            raise
        except Exception as exc:  # the exchange's trouble: the stale-data refusal says enough
            log.info("signing probe failed: account=%s reason=%s", account_id, _code(exc))

    async def _refuse_taken(self, account_id: str, client_oid: str) -> None:
        """ClientOidTaken when the account already has an intent with this clientOid."""
        async with self._db.hot_read() as runner:
            existing = await intent_id_by_client_oid(runner, account_id, client_oid)
        if existing is not None:
            raise ClientOidTaken(existing)

    async def _check_risk(self, market: Market, req: OrderRequest) -> None:
        """Without an engine: the maximum notional per order, as the order's market values it."""
        amount = await market.notional(req, self._quotes)
        reason = risk_check(amount, self.max_notional)
        if reason is not None:
            raise RiskRejected(reason)

    async def _persist(
        self, tenant_id: str, actor: str, req: OrderRequest, account: str
    ) -> OrderIntent:
        """Insert the intent and record ``persisted -> sent``, in ONE commit, before any call.

        The row is inserted directly in ``sent``: persisted and sent share the commit, so no
        reader can ever see the intent ``persisted``; the audit log still records both steps,
        chained. Statements: the account, ``INSERT ... ON CONFLICT DO NOTHING RETURNING``, the
        audit head, one INSERT of both audit records.
        """
        client_oid = check_client_oid(req.client_oid)
        now = self._now()
        if S.SENT not in TRANSITIONS[S.PERSISTED]:  # pragma: no cover - a table edit guard
            raise ValueError("illegal transition persisted -> sent")
        async with self._db.hot_write() as conn:
            account_id = await owned_account_id(conn, tenant_id, account)
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
                               intent_detail(row), tenant_id),
                    AuditEntry(actor, AuditAction.ORDER_STATE.value, row.id, sent),
                ],
                now=now,
            )  # fmt: skip
            await append_events(conn, [order_event(row, S.PERSISTED, tenant_id=tenant_id)], now=now)
        self.intents.notify()
        return row

    async def _send(
        self, market: Market, intent: OrderIntent, actor: str, time_in_force: str | None
    ) -> OrderIntent | None:
        """Send once; the row after its outcome was recorded (None: someone moved it first)."""
        self.intents.in_flight.add(intent.id)
        try:
            return await self._send_once(market, intent, actor, time_in_force)
        finally:
            self.intents.in_flight.discard(intent.id)

    async def _send_once(
        self, market: Market, intent: OrderIntent, actor: str, time_in_force: str | None
    ) -> OrderIntent | None:
        moved = self.intents.move
        try:
            with signing_for(intent.account_id):
                venue = await self._venues.for_account(intent.account_id)
                placed = await market.place(venue, intent, time_in_force)
        except AccountUnusable as exc:  # nothing was signed, so nothing was sent: say whose
            await moved(
                intent, S.SENT, S.NOT_PLACED, actor=actor, reason=_code(exc),
                refusal=reason_of(exc),
            )  # fmt: skip
            raise
        except (Rejected, AuthError, LocalError) as exc:  # refused, or never sent at all
            return await moved(
                intent, S.SENT, S.REJECTED, actor=actor, reason=_code(exc),
                refusal=reason_of(exc),
            )  # fmt: skip
        except Exception as exc:  # unsure whether it exists: reconcile, never resend
            log.info("order outcome unknown: intent=%s reason=%s", intent.id, type(exc).__name__)
            return await moved(intent, S.SENT, S.UNKNOWN, actor=actor, reason=_code(exc))
        return await moved(intent, S.SENT, S.ACKED, actor=actor, exchange_id=placed.order_id)

    # -- reading --------------------------------------------------------------------------

    async def get(self, tenant_id: str, intent_id: str, market: str | None = None) -> IntentView:
        """One of the tenant's intents, refreshed from the exchange when it may have moved.

        ``market`` (spot | margin | futures) limits the lookup to that market's intents.
        """
        row = await self.intents.owned(tenant_id, intent_id, market)
        if row.state in (S.ACKED, S.OPEN):
            try:
                await self.intents.settle(row, actor="gateway")
            except KcgatewayError as exc:  # the stored state is still a true (older) answer
                log.info("order refresh skipped: intent=%s reason=%s", row.id, type(exc).__name__)
        return await self.intents.view_of(row.id)

    async def by_client_oid(
        self,
        tenant_id: str,
        client_oid: str,
        market: str | None = None,
        account: str | None = None,
    ) -> IntentView:
        """The tenant's intent with this clientOid (in ``market`` and ``account`` if given).

        A clientOid is unique per account, not per tenant: when two of the tenant's accounts
        use it and no ``account`` is given, :class:`AmbiguousClientOid` lists them.
        """
        async with self._db.read() as session:
            query = await _of_tenant(
                session,
                select(OrderIntent.id, ExchangeAccount.name).where(
                    OrderIntent.client_oid == client_oid
                ),
                tenant_id,
                market,
                account,
            )
            found = (await session.execute(query)).all()
        if not found:
            raise NoSuchObject("order")
        if len(found) > 1:
            raise AmbiguousClientOid(client_oid, tuple(sorted(name for _, name in found)))
        return await self.intents.view_of(found[0][0])

    async def list(
        self,
        tenant_id: str,
        *,
        limit: int = 100,
        account: str | None = None,
        states: Sequence[OrderState] = (),
        market: str | None = None,
    ) -> list[IntentView]:
        """The first :meth:`page` of the tenant's intents, newest first."""
        query = OrderQuery(limit=limit, account=account, states=states, market=market)
        return (await self.page(tenant_id, query)).items

    async def page(self, tenant_id: str, query: OrderQuery) -> Page:
        """One page of the tenant's intents (:mod:`~kcgateway.gateway.orders.listing`).

        NoSuchObject when ``query.account`` is not the tenant's (a removed account still has
        its history); ValidationError for a bad cursor or time range.
        """
        async with self._db.read() as session:
            return await listing.page(session, tenant_id, query)

    # -- cancelling -----------------------------------------------------------------------

    async def cancel(
        self, tenant_id: str, intent_id: str, actor: str, market: str | None = SPOT
    ) -> IntentView:
        """Ask the exchange to cancel (by clientOid), then record what it says.

        Only an intent of ``market`` (spot by default: the spot routes' trade:spot scope must
        not cancel margin or futures orders); ``None`` accepts any market.
        """
        row = await self.intents.owned(tenant_id, intent_id, market)
        if row.state not in (S.ACKED, S.OPEN):
            raise NotCancellable(row.state.value)
        async with self._db.write() as session:
            await record(
                session, AuditAction.ORDER_CANCEL, actor=actor, subject=row.id,
                now=self._now(), tenant_id=tenant_id, detail={"client_oid": row.client_oid},
            )  # fmt: skip
        with signing_for(row.account_id):
            venue = await self._venues.for_account(row.account_id)
            await self.markets.of(row.market).cancel(venue, row)
        await self.intents.settle(row, actor=actor)
        return await self.intents.view_of(row.id)

    async def cancel_by_client_oid(
        self,
        tenant_id: str,
        client_oid: str,
        actor: str,
        market: str = SPOT,
        account: str | None = None,
    ) -> IntentView:
        """:meth:`cancel` of the intent :meth:`by_client_oid` finds (ambiguity refused)."""
        found = await self.by_client_oid(tenant_id, client_oid, market, account)
        return await self.cancel(tenant_id, found.id, actor, market)

    async def cancel_symbol(
        self, tenant_id: str, account: str, symbol: str, actor: str, market: str = SPOT
    ) -> Sequence[IntentView]:
        """Cancel every open order of the account on ``symbol`` in ``market`` at the exchange.

        One exchange call (cancel-all for the symbol, which also reaches orders no intent
        knows), one audit record, then each of the account's acked/open intents on the symbol
        is settled by clientOid. Returns those intents as they stand afterwards.
        """
        handler = self.markets.of(market)
        async with self._db.write() as session:
            row = await owned_account(session, tenant_id, account)
            await record(
                session, AuditAction.ORDER_CANCEL, actor=actor, subject=row.id,
                now=self._now(), tenant_id=tenant_id,
                detail={"symbol": symbol, "market": market, "all": True},
            )  # fmt: skip
        with signing_for(row.id):
            venue = await self._venues.for_account(row.id)
            await handler.cancel_symbol(venue, symbol)
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
                await self.intents.settle(intent, actor=actor)
            except KcgatewayError as exc:  # the reconciler settles it later
                log.info(
                    "cancel settle deferred: intent=%s reason=%s", intent.id, type(exc).__name__
                )
        return [await self.intents.view_of(intent.id) for intent in intents]

    async def cancel_open(self, level: Level, target: str) -> CancelReport:
        """The kill switch's canceller: every open order under ``level``/``target``.

        :class:`~kcgateway.gateway.orders.sweep.OpenOrderSweep`: the exchange's cancel-all
        calls per account and market (a key's own orders by clientOid), then the intents
        settled. ``target`` is a tenant, account or key id ("" for the gateway).
        """
        return await self.sweep.cancel_open(level, target)

    # -- what the background work and the stream call (reconcile.py, lifecycle.py) ----------

    async def reconcile(self) -> int:
        """:meth:`Reconciler.reconcile`: one pass; how many intents are still pending."""
        return await self.reconciler.reconcile()

    async def refresh_open(self, max_lookups: int | None = None) -> int:
        """:meth:`Reconciler.refresh_open`: a batch of open intents looked up."""
        if max_lookups is None:
            return await self.reconciler.refresh_open()
        return await self.reconciler.refresh_open(max_lookups)

    async def adopt_strays(self, account_id: str) -> Sequence[str]:
        """:meth:`Reconciler.adopt_strays` of one account."""
        return await self.reconciler.adopt_strays(account_id)

    async def adopt_all(self) -> int:
        """:meth:`Reconciler.adopt_all`."""
        return await self.reconciler.adopt_all()

    async def reconcile_account(self, account_id: str, markets: Collection[str]) -> int:
        """:meth:`Reconciler.reconcile_account` (the order stream after a reconnect)."""
        return await self.reconciler.reconcile_account(account_id, markets)

    async def apply_exchange_event(
        self, account_id: str, client_oid: str, state: OrderState, order_id: str
    ) -> bool | None:
        """:meth:`Intents.apply_exchange_event` (an order event from the private stream)."""
        return await self.intents.apply_exchange_event(account_id, client_oid, state, order_id)


async def _of_tenant(
    session: AsyncSession,
    query: _Query,
    tenant_id: str,
    market: str | None,
    account: str | None,
) -> _Query:
    """``query`` over intents narrowed to the tenant's, of ``market`` and ``account`` if given.

    ``account`` is an id or name (NoSuchObject when it is not the tenant's; a removed account
    still has its history).
    """
    query = query.join(ExchangeAccount, ExchangeAccount.id == OrderIntent.account_id).where(
        ExchangeAccount.tenant_id == tenant_id
    )
    if market is not None:
        query = query.where(OrderIntent.market == market)
    if account is not None:
        owned = await owned_account(session, tenant_id, account, include_removed=True)
        query = query.where(OrderIntent.account_id == owned.id)
    return query


def _code(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    return f"{type(exc).__name__}:{code}" if code else type(exc).__name__
