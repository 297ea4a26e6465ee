"""Everything the web layer may call, in one typed bundle that :mod:`kcgateway.main` builds.

The web layer receives this object; it never builds services or reads settings itself.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import func, select, text

from kcgateway.exchange.reach import HostProbe, HostReach
from kcgateway.exchange.rest import KuCoinClient
from kcgateway.exchange.shared_budget import SharedBudgets
from kcgateway.gateway.accounts import AccountOnboarding
from kcgateway.gateway.alerts import AlertService
from kcgateway.gateway.books import BookService
from kcgateway.gateway.bots import SignalBots
from kcgateway.gateway.cluster.bus import ChangeBus
from kcgateway.gateway.cluster.leases import LeaseManager
from kcgateway.gateway.console import ConsoleSessions
from kcgateway.gateway.console.equity_history import EquityHistory
from kcgateway.gateway.event_feed import EventFeed
from kcgateway.gateway.events import OrderEvents
from kcgateway.gateway.facade.service import FacadeService
from kcgateway.gateway.idempotency import Idempotency
from kcgateway.gateway.keys import KeyService
from kcgateway.gateway.market_reads import AccountReads
from kcgateway.gateway.metrics import GatewayMetrics
from kcgateway.gateway.onboarding import FastApiOnboarding
from kcgateway.gateway.orders.lifecycle import owned_account
from kcgateway.gateway.orders.router import OrderRouter
from kcgateway.gateway.risk_control import RiskControl
from kcgateway.gateway.risk_engine import RiskEngine
from kcgateway.gateway.risk_wiring import RiskHandlers
from kcgateway.gateway.stream_counts import StreamCounts
from kcgateway.gateway.subaccounts import SubAccounts
from kcgateway.gateway.venue import Venues
from kcgateway.kucoin import models as m
from kcgateway.store.audit_chain import AuditKeys
from kcgateway.store.database import Database
from kcgateway.store.tables import OrderIntent
from kcgateway.store.types import OrderState
from kcgateway.tasks import stop_task

log = logging.getLogger("kcgateway.gateway")


class _Closeable(Protocol):
    async def aclose(self) -> None: ...


@dataclass
class GatewayServices:
    """The use cases plus what the health and metrics routes read."""

    db: Database
    keys: KeyService
    orders: OrderRouter
    accounts: AccountOnboarding
    idempotency: Idempotency
    venues: Venues
    market: KuCoinClient
    trusted_proxies: tuple[str, ...] = ()
    reconcile_every_s: float = 2.0
    #: look for exchange orders no intent knows every this many reconciliation passes
    adopt_every_passes: int = 30
    #: the Prometheus series (one registry per bundle); build_services shares it with clients
    metrics: GatewayMetrics = field(default_factory=GatewayMetrics)
    _reconciler: asyncio.Task[None] | None = field(default=None, repr=False)
    #: order books from the stream with a REST fallback (gateway/books.py)
    books: BookService | None = None
    futures_books: BookService | None = None
    #: private order events moving intents in real time (gateway/events.py)
    events: OrderEvents | None = None
    #: WebSocket reconnects, gaps and resyncs per feed kind (for /metrics)
    stream_counts: StreamCounts = field(default_factory=StreamCounts)
    #: alerts: stored, listed, delivered to the operator's webhook (gateway/alerts.py)
    alerts: AlertService | None = None
    #: trading states, limit overrides and blocked symbols (gateway/risk_control.py)
    risk: RiskControl | None = None
    #: the pre-trade risk engine the order router calls (gateway/risk_engine.py)
    risk_engine: RiskEngine | None = None
    #: what the engine hands on: RiskControl, then alerts (gateway/risk_wiring.py)
    risk_handlers: RiskHandlers | None = None
    #: web console sessions opened with a gateway key (gateway/console/sessions.py)
    console: ConsoleSessions | None = None
    _risk_start: asyncio.Task[None] | None = field(default=None, repr=False)
    #: "Connect with KuCoin" (Fast API OAuth onboarding, gateway/onboarding.py)
    onboarding: FastApiOnboarding | None = None
    #: ND-broker sub-accounts created as tenant accounts (gateway/subaccounts.py)
    subaccounts: SubAccounts | None = None
    #: reachability of the exchange's spot, futures and broker hosts (for /readyz)
    exchange_hosts: HostProbe | None = None
    #: the event log bots follow and resume from (gateway/event_feed.py, GET /v1/events)
    event_feed: EventFeed | None = None
    #: signal bots: webhooks turned into orders (gateway/bots/)
    signals: SignalBots | None = None
    _signals_start: asyncio.Task[None] | None = field(default=None, repr=False)
    #: the KuCoin-compatible facade: its credentials and requests (gateway/facade/)
    facade: FacadeService | None = None
    #: rate budgets shared with the other instances through Redis (None: no Redis configured)
    rate_budgets: SharedBudgets | None = None
    #: each account's marked equity over time (the console's equity chart)
    equity_history: EquityHistory | None = None
    #: reads the deployment's audit keys (the console's chain verification); None: not here
    audit_keys: Callable[[], AuditKeys] | None = None
    #: this instance's name among several on one database (settings.instance_id)
    instance_id: str = field(default_factory=socket.gethostname)
    #: the account leases of this instance (gateway/cluster/leases.py); used once joined
    leases: LeaseManager | None = None
    _joined: bool = field(default=False, repr=False)
    #: tells the other instances on the database what changed here (gateway/cluster/)
    bus: ChangeBus | None = None

    async def balances(self, tenant_id: str, account: str) -> list[m.Account]:
        """Balances of one of the tenant's accounts (NoSuchObject for anyone else's)."""
        async with self.db.read() as session:
            row = await owned_account(session, tenant_id, account)
        venue = await self.venues.for_account(row.id)
        return await venue.balances()

    @property
    def reads(self) -> AccountReads:
        """Fills, margin and futures balances, positions and contracts (read-only)."""
        return AccountReads(self.db, self.venues, self.market)

    async def symbols(self) -> list[m.Symbol]:
        """The exchange's spot symbols (public data)."""
        return await self.market.market.symbols()

    async def intents_by_state(self) -> dict[str, int]:
        """How many intents are in each state (for /metrics)."""
        query = select(OrderIntent.state, func.count()).group_by(OrderIntent.state)
        async with self.db.read() as session:
            return {str(s): int(n) for s, n in (await session.execute(query)).all()}

    def __post_init__(self) -> None:
        if self.rate_budgets is not None:
            self.metrics.budget_mode = lambda: self.rate_budget_mode
        if self.orders.on_resolved is None:
            self.orders.on_resolved = self.metrics.on_resolved
        if self.event_feed is not None:  # commits that append events wake the followers
            self.orders.intents.notify = self.event_feed.hub.notify
            if self.alerts is not None:
                self.alerts.on_stored = self.event_feed.hub.notify

    async def join(self) -> None:
        """Join the instances on this database (before :meth:`start`, in ``serve``).

        Registers the instance (on SQLite a second live instance is refused with a
        ConfigError), takes its fair share of the account leases, and from then on the
        reconciler, the stray scan and the order streams work only on the accounts it holds,
        every write of theirs fenced by the lease's epoch. Without it (tests, the CLI) they work
        on every account, as a single process always did.
        """
        if self.leases is None or self._joined:
            return
        self.orders.intents.on_stale_epoch = self.metrics.on_stale_epoch_write
        await self.leases.start()
        self._joined = True
        self.orders.reconciler.leases = self.leases
        if self.events is not None:
            self.events.leases = self.leases
            self.leases.on_change.append(self.events.rescan)

    def owns(self, account_id: str) -> bool:
        """Whether this instance speaks for the account: its lease holder, or alone (not joined).

        Work that every instance could do but only one must record (position events, equity
        samples) asks this, so a cluster writes each once.
        """
        if self.leases is None or not self._joined:
            return True
        return account_id in self.leases.owned()

    def leases_owned(self) -> int:
        """How many account leases this instance holds (0 until it joined)."""
        return len(self.leases.owned()) if self.leases is not None and self._joined else 0

    def cluster_view(self) -> dict[str, object]:
        """What /readyz says about this instance among several."""
        return {"instance_id": self.instance_id, "leases_owned": self.leases_owned()}

    async def refresh_metrics(self) -> bytes:
        """The /metrics exposition, with the intents gauge read from the database now."""
        self.metrics.leases_owned.set(self.leases_owned())
        counts = await self.intents_by_state()
        self.metrics.set_intents(counts, [state.value for state in OrderState])
        return self.metrics.exposition()

    async def ready(self) -> bool:
        """The database answers, the reconciler runs, every configured exchange host answers."""
        try:
            async with self.db.read() as session:
                await session.execute(text("SELECT 1"))
        except Exception:  # any failure means "not ready"
            return False
        reach = await self.exchange_reach()
        if any(r.url is not None and not r.reachable for r in reach.values()):
            return False
        return self._reconciler is not None and not self._reconciler.done()

    @property
    def rate_budget_mode(self) -> str:
        """``local`` (no Redis), ``shared`` or ``local_share`` (Redis away: 1/N per instance)."""
        return "local" if self.rate_budgets is None else self.rate_budgets.mode

    async def redis_state(self) -> str:
        """``ok`` or ``down`` (asked now; the answer also moves the budgets' mode), or ``unused``.

        Redis being down does not make the gateway unready: the budgets fall back to a 1/N
        local share, and ``/readyz`` and ``kcgw_rate_budget_mode`` say so.
        """
        if self.rate_budgets is None:
            return "unused"
        return "ok" if await self.rate_budgets.check() else "down"

    async def exchange_reach(self) -> dict[str, HostReach]:
        """Each exchange host's reachability (empty when no probe is wired)."""
        return await self.exchange_hosts.check() if self.exchange_hosts is not None else {}

    def start(self) -> None:
        """Start the background reconciler."""
        if self._reconciler is None:
            self._reconciler = asyncio.get_running_loop().create_task(self._reconcile_forever())
        for books in (self.books, self.futures_books):
            if books is not None:
                books.start()
        if self.events is not None:
            self.events.start()
        if self.alerts is not None:
            self.alerts.start()
        if self.event_feed is not None:
            self.event_feed.start()
        if self.risk is not None:
            self.risk.start()
        if self.bus is not None:
            self.bus.start()
        if self.risk_engine is not None and self._risk_start is None:
            self._risk_start = asyncio.get_running_loop().create_task(self.risk_engine.start())
        if self.equity_history is not None:
            self.equity_history.start()
        if self.signals is not None and self._signals_start is None:
            self._signals_start = asyncio.get_running_loop().create_task(self.signals.start())

    async def risk_ready(self) -> None:
        """Wait for the risk engine's first loads (rules, tickers, equity marks) after start."""
        if self._risk_start is not None:
            await asyncio.shield(self._risk_start)

    async def reconcile_once(self, passes: int = 0) -> None:
        """One reconciliation pass (plus the stray scan every ``adopt_every_passes``), counted.

        Never raises: a failed pass is logged and counted, and the next one tries again.
        """
        try:
            await self.accounts.sweep_removed()  # removed by another process (the CLI)
            await self.orders.reconcile()
            if passes % self.adopt_every_passes == 0:
                await self.orders.adopt_all()
                await self.orders.refresh_open()  # fills/cancels a stream missed (or has none)
        except Exception:
            log.exception("reconciliation pass failed")
            self.metrics.on_reconcile_pass(failed=True)
        else:
            self.metrics.on_reconcile_pass(failed=False)

    async def _reconcile_forever(self) -> None:
        passes = 0
        while True:
            await self.reconcile_once(passes)
            passes += 1
            await asyncio.sleep(self.reconcile_every_s)

    async def aclose(self) -> None:
        """Stop the reconciler, hand the leases over, close every client and the database."""
        task, self._reconciler = self._reconciler, None
        await stop_task(task)
        if self.events is not None:
            await self.events.aclose()
        if self.leases is not None and self._joined:  # after the leased work stopped
            await self.leases.aclose()
        if self.signals is not None:  # before the router and venues it places orders through
            await self.signals.aclose()
        start, self._risk_start = self._risk_start, None
        await stop_task(start)
        if self.equity_history is not None:  # before the engine whose marks it samples
            await self.equity_history.aclose()
        if self.risk_engine is not None:
            await self.risk_engine.aclose()
        if self.risk_handlers is not None:
            await self.risk_handlers.drain()
        closing: tuple[_Closeable | None, ...] = (
            self.alerts, self.event_feed, self.risk, self.books, self.futures_books,
            self.onboarding, self.venues, self.exchange_hosts, self.market, self.rate_budgets,
            self.bus, self.db,
        )  # fmt: skip
        for part in closing:  # in this order: the database last
            if part is not None:
                await part.aclose()
