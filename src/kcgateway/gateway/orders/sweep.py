"""The kill switch's cancel: every open order under a halted level, cancelled at the exchange.

:class:`OpenOrderSweep` is the :class:`~kcgateway.gateway.risk_control.OpenOrderCanceller` the
order router offers (``OrderRouter.cancel_open``). For a gateway, tenant or account target it
finds the accounts under it with open (or still in flight) intents and, per account and market,
uses the exchange's cancel-all calls: spot ``DELETE /api/v1/hf/orders/cancelAll`` (classic:
``DELETE /api/v1/orders``), margin cancel-all by symbol in both modes, futures ``DELETE
/api/v3/orders``. A key's orders are only those the key placed (the intent's audit record names
the key): each is cancelled by clientOid, so another key's orders on the same account stay.
Then every intent is settled by clientOid; one still live (it reached the exchange after the
cancel-all) is cancelled on its own. Accounts are swept concurrently; one account's failure is
reported and never stops the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import Select, select

from kcgateway.errors import KcgatewayError
from kcgateway.gateway.audit import AuditAction, record
from kcgateway.gateway.orders.lifecycle import Intents, Now, signing_for
from kcgateway.gateway.orders.markets import FUTURES, MARGIN, SPOT, Markets, trade_type
from kcgateway.gateway.risk_control.views import CancelReport
from kcgateway.gateway.venue import AccountVenue, Venues
from kcgateway.risk import Level
from kcgateway.store.database import Database
from kcgateway.store.tables import AuditRecord, ExchangeAccount, OrderIntent
from kcgateway.store.types import OrderState

log = logging.getLogger("kcgateway.gateway.orders")
S = OrderState
#: intents that may be resting at the exchange (or about to be)
LIVE = (S.ACKED, S.OPEN, S.SENT, S.UNKNOWN)
#: accounts swept at once, and intents settled at once
ACCOUNT_CONCURRENCY = 16
SETTLE_CONCURRENCY = 32
#: how long the sweep waits for orders still being sent before settling
IN_FLIGHT_WAIT_S = 5.0
ACTOR = "risk halt"


class OpenOrderSweep:
    """Cancels every open order under a level and target (see the module docstring)."""

    def __init__(
        self, db: Database, venues: Venues, markets: Markets, intents: Intents, now: Now
    ) -> None:
        self._db = db
        self._venues = venues
        self._markets = markets
        self._intents = intents
        self._now = now

    async def cancel_open(self, level: Level, target: str) -> CancelReport:
        """Cancel at the exchange, then settle; never raises for one account's failure."""
        rows = await self._live(level, target)
        by_account: dict[str, list[OrderIntent]] = defaultdict(list)
        for row in rows:
            by_account[row.account_id].append(row)
        limit = asyncio.Semaphore(ACCOUNT_CONCURRENCY)
        per_key = level is Level.KEY

        async def sweep(account_id: str, intents: list[OrderIntent]) -> list[str]:
            async with limit:
                return await self._sweep_account(account_id, intents, per_key=per_key)

        found = await asyncio.gather(*(sweep(a, i) for a, i in by_account.items()))
        failures = [f for fs in found for f in fs]
        await self._wait_in_flight({r.id for r in rows})
        cancelled, unsettled = await self._settle(await self._reread(rows))
        if unsettled:
            failures.append(
                f"{unsettled} order(s) could not be confirmed cancelled yet: the reconciler "
                "keeps checking them; see GET /v1/orders"
            )
        return CancelReport(cancelled=cancelled, failures=tuple(failures))

    async def _live(self, level: Level, target: str) -> Sequence[OrderIntent]:
        query: Select[OrderIntent] = select(OrderIntent).where(OrderIntent.state.in_(LIVE))
        if level is Level.ACCOUNT:
            query = query.where(OrderIntent.account_id == target)
        elif level is Level.TENANT:
            query = query.join(ExchangeAccount, ExchangeAccount.id == OrderIntent.account_id).where(
                ExchangeAccount.tenant_id == target
            )
        elif level is Level.KEY:
            placed_by = select(AuditRecord.subject).where(
                AuditRecord.actor == target,
                AuditRecord.action == AuditAction.ORDER_INTENT.value,
            )
            query = query.where(OrderIntent.id.in_(placed_by))
        async with self._db.read() as session:
            return (await session.scalars(query)).all()

    async def _sweep_account(
        self, account_id: str, intents: list[OrderIntent], *, per_key: bool
    ) -> list[str]:
        markets = sorted({i.market for i in intents})
        async with self._db.write() as session:
            await record(
                session, AuditAction.ORDER_CANCEL, actor=ACTOR, subject=account_id,
                now=self._now(), detail={"all": True, "markets": ",".join(markets),
                                         "reason": "trading halted with cancelOpen"},
            )  # fmt: skip
        failures: list[str] = []
        try:
            with signing_for(account_id):
                venue = await self._venues.for_account(account_id)
        except KcgatewayError as exc:
            return [f"account {account_id}: cannot sign ({type(exc).__name__}): cancel by hand"]
        if per_key:
            for row in intents:
                if row.state in (S.ACKED, S.OPEN):
                    failures += await self._guard(
                        account_id, row.market, self._cancel_one(venue, row)
                    )
            return failures
        for market in markets:
            of_market = [i for i in intents if i.market == market]
            failures += await self._guard(
                account_id, market, self._cancel_all(venue, market, of_market)
            )
        return failures

    async def _guard(self, account_id: str, market: str, work: object) -> list[str]:
        assert asyncio.iscoroutine(work)  # noqa: S101 - always a call of this class
        try:
            with signing_for(account_id):
                await work
        except Exception as exc:  # reported; the other accounts and markets go on
            log.info("halt cancel failed: account=%s market=%s", account_id, market)
            return [f"account {account_id} {market}: cancel-all failed ({type(exc).__name__})"]
        return []

    async def _cancel_all(
        self, venue: AccountVenue, market: str, intents: Iterable[OrderIntent]
    ) -> None:
        if market == SPOT:
            if await venue.is_hf():
                await venue.client.spot.hf.cancel_all()
            else:
                await venue.client.spot.classic.cancel_all()
        elif market == FUTURES:
            await venue.client.futures.cancel_all()
        elif market == MARGIN:  # no cancel-all across symbols: per symbol, in each mode used
            for symbol, mode in sorted({(i.symbol, i.margin_mode or "cross") for i in intents}):
                await venue.client.margin.cancel_symbol(symbol, trade_type=trade_type(mode))

    async def _cancel_one(self, venue: AccountVenue, row: OrderIntent) -> None:
        await self._markets.of(row.market).cancel(venue, row)

    async def _wait_in_flight(self, ids: set[str]) -> None:
        """Let orders still being sent land, so the settle step sees (and cancels) them."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + IN_FLIGHT_WAIT_S
        while ids & self._intents.in_flight and loop.time() < deadline:
            await asyncio.sleep(0.05)

    async def _reread(self, rows: Sequence[OrderIntent]) -> Sequence[OrderIntent]:
        ids = [r.id for r in rows]
        if not ids:
            return []
        query = select(OrderIntent).where(OrderIntent.id.in_(ids), OrderIntent.state.in_(LIVE))
        async with self._db.read() as session:
            return (await session.scalars(query)).all()

    async def _fresh(self, intent_id: str) -> OrderIntent:
        async with self._db.read() as session:
            row = await session.get(OrderIntent, intent_id)
        assert row is not None  # noqa: S101 - an intent is never deleted
        return row

    async def _settle(self, rows: Sequence[OrderIntent]) -> tuple[int, int]:
        """Settle each intent by clientOid (cancelling a late one); (cancelled, unsettled)."""
        limit = asyncio.Semaphore(SETTLE_CONCURRENCY)

        async def one(row: OrderIntent) -> OrderState | None:
            async with limit:
                try:
                    with signing_for(row.account_id):
                        await self._intents.settle(row, actor=ACTOR)
                        view = await self._intents.view_of(row.id)
                        if view.state in (S.ACKED, S.OPEN):  # it landed after the cancel-all
                            fresh = await self._fresh(row.id)
                            venue = await self._venues.for_account(row.account_id)
                            await self._markets.of(row.market).cancel(venue, fresh)
                            await self._intents.settle(fresh, actor=ACTOR)
                            view = await self._intents.view_of(row.id)
                        return view.state
                except Exception as exc:  # the reconciler settles it later
                    log.info("halt settle deferred: intent=%s reason=%s", row.id,
                             type(exc).__name__)  # fmt: skip
                    return None

        states = await asyncio.gather(*(one(r) for r in rows))
        cancelled = sum(1 for s in states if s is S.CANCELLED)
        unsettled = sum(1 for s in states if s is None or s in LIVE)
        return cancelled, unsettled
