"""The risk engine: gathers the inputs of the pure pre-trade check and applies its answer.

::

    engine = RiskEngine.for_services(services, states_for=ctl.states_for,
                                     limits_for=ctl.limits_for, on_signal=alerts.raise_signal,
                                     on_state_change=ctl.apply, on_drawdown=ctl.drawdown)
    await engine.start()                       # first loads, then the background refreshes
    decision = await engine.check(order, tenant=t, account_id=a, key_id=k,
                                  source_ip=ip, now=datetime.now(UTC))
    if decision.allowed:
        ...                                    # send decision.order
        engine.record_submission(decision.order, notional=decision.notional,
                                 source_ip=ip, now=now)

Per order, everything but the book is read from memory (:mod:`kcgateway.gateway.risk_inputs`):
the symbol rules, 24 h volume and rank and baseline come from background refreshes of the
exchange's symbol list and ``allTickers``; the last price of symbols in use is polled every
``hot_every_s``; balances, positions, open orders and equity of every followed account are
refreshed every ``accounts_every_s`` and on each private balance event. The book comes from the
gateway's :class:`~kcgateway.gateway.books.BookService` (its live stream, or its REST fallback).
The first order of an account not yet followed waits for one load of it (bounded by
``first_load_timeout_s``); if that fails the check fails closed (``risk.stale_data``).

What the engine hands on (``docs/risk.md``, "What the engine in gateway/ must do"), at once,
before the decision is returned: every ``decision.state_changes`` entry (this order's account or
key) to ``on_state_change``, and every signal, whose ``actions`` may halt more accounts and
block a symbol gateway-wide, to ``on_signal``. Persisting, auditing, applying the actions and
alerting are the injected callbacks' work (``riskctl`` and ``alerts``). Drawdown moves found on
equity updates (not on orders) go to ``on_drawdown`` as soon as the update is marked.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from kcgateway.clock import Clock, SystemClock
from kcgateway.gateway.risk_inputs import (
    AccountData,
    ActivityTracker,
    BalanceSource,
    DrawdownCallback,
    LimitsFor,
    MarketData,
    stop,
)
from kcgateway.risk import (
    CancelRequest,
    Decision,
    DrawdownVerdict,
    Level,
    MarketKind,
    ProposedOrder,
    Signal,
    StateChange,
    TradingState,
    TradingStates,
    evaluate,
)
from kcgateway.store.database import Database

if TYPE_CHECKING:
    from kcgateway.exchange.private_feed import BalanceChange, PrivateFeed
    from kcgateway.gateway.services import GatewayServices

__all__ = ["RiskEngine", "StatesFor"]

log = logging.getLogger("kcgateway.gateway.risk")
CANCEL = Decision(allowed=True)


class StatesFor(Protocol):
    """``riskctl``'s view: the trading states that cover a tenant, account and key."""

    def __call__(self, tenant_id: str, account_id: str, key_id: str) -> TradingStates:
        """The states at the gateway, tenant, account and key levels."""
        ...


SignalCallback = Callable[[Signal], None]
StateChangeCallback = Callable[[StateChange], None]
FeedFor = Callable[[str], "PrivateFeed | None"]
BalanceReport = Callable[[str, "BalanceChange"], Awaitable[None]]


def _as_state_change(on_state_change: StateChangeCallback) -> DrawdownCallback:
    """Report a drawdown verdict as the account-level state change it calls for."""

    def on_drawdown(tenant_id: str, account_id: str, verdict: DrawdownVerdict) -> None:
        if verdict.state is not TradingState.ACTIVE:
            change = StateChange(Level.ACCOUNT, account_id, verdict.state, verdict.reason)
            on_state_change(change)

    return on_drawdown


def epoch_ms(now: datetime | int) -> int:
    """``now`` (an aware datetime, or epoch ms) as epoch milliseconds."""
    if isinstance(now, int):
        return now
    return int(now.timestamp() * 1000)


@dataclass
class Costs:
    """The engine's own time per order (gathering plus the pure check), in microseconds.

    ``samples`` is wall time (what the caller waits, preemption included); ``cpu`` is the
    thread's CPU time over the same span (what the check costs, without preemption by other
    processes on a loaded machine).
    """

    samples: list[float] = dataclasses.field(default_factory=list)
    cpu: list[float] = dataclasses.field(default_factory=list)
    keep: int = 10_000

    def add(self, wall_us: float, cpu_us: float) -> None:
        """Record one check."""
        for kept, value in ((self.samples, wall_us), (self.cpu, cpu_us)):
            kept.append(value)
            if len(kept) > self.keep:
                del kept[: len(kept) - self.keep]

    def clear(self) -> None:
        """Forget every sample."""
        self.samples.clear()
        self.cpu.clear()

    def quantile(self, q: float, *, cpu: bool = False) -> float:
        """The ``q`` quantile of the kept wall (or CPU) samples (0 when none)."""
        kept = self.cpu if cpu else self.samples
        if not kept:
            return 0.0
        ordered = sorted(kept)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class RiskEngine:
    """Feeds :func:`kcgateway.risk.evaluate` from memory and applies its decisions."""

    def __init__(
        self,
        *,
        market: MarketData,
        accounts: AccountData,
        activity: ActivityTracker,
        states_for: StatesFor,
        limits_for: LimitsFor,
        on_signal: SignalCallback | None = None,
        on_state_change: StateChangeCallback | None = None,
        feed_for: FeedFor | None = None,
        seed_db: Database | None = None,
        clock: Clock | None = None,
        rules_every_s: float = 60.0,
        tickers_every_s: float = 60.0,
        hot_every_s: float = 1.0,
        accounts_every_s: float = 2.0,
        feeds_every_s: float = 2.0,
        first_load_timeout_s: float = 3.0,
        balance_gap_s: float = 0.25,
    ) -> None:
        self.market = market
        self.accounts = accounts
        self.activity = activity
        self.costs = Costs()
        self._states_for = states_for
        self._limits_for = limits_for
        self._on_signal = on_signal
        self._on_state_change = on_state_change
        self._feed_for = feed_for
        #: told each private balance change too (the event log bots follow: event_feed.py)
        self.report_balance: BalanceReport | None = None
        self._seed_db = seed_db
        self._clock = clock or SystemClock()
        self._every = {
            "rules": rules_every_s,
            "tickers": tickers_every_s,
            "hot": hot_every_s,
            "accounts": accounts_every_s,
            "feeds": feeds_every_s,
        }
        self._first_load_timeout_s = first_load_timeout_s
        #: balance events refresh an account at most once per this gap (a busy bot's every
        #: order moves its balances twice: one refresh per event cost a REST call and a
        #: database read per order); an event inside the gap schedules one refresh at its end
        self.balance_gap_s = balance_gap_s
        self._last_kick: dict[str, float] = {}
        self._kick_later: dict[str, asyncio.TimerHandle] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False
        self._balance_tasks: dict[str, asyncio.Task[None]] = {}

    @classmethod
    def for_services(
        cls,
        services: GatewayServices,
        *,
        states_for: StatesFor,
        limits_for: LimitsFor,
        on_signal: SignalCallback | None = None,
        on_state_change: StateChangeCallback | None = None,
        on_drawdown: DrawdownCallback | None = None,
        clock: Clock | None = None,
        every_s: dict[str, float] | None = None,
    ) -> RiskEngine:
        """An engine over the gateway's public client, book services, venues and database.

        ``every_s`` overrides refresh periods by name: rules, tickers, hot, accounts, feeds.
        Without ``on_drawdown``, a drawdown verdict stricter than ACTIVE found on an equity
        update goes to ``on_state_change`` as an account-level :class:`StateChange`.
        """
        clock = clock or SystemClock()
        if on_drawdown is None and on_state_change is not None:
            on_drawdown = _as_state_change(on_state_change)
        market = MarketData(
            services.market, books=services.books, futures_books=services.futures_books,
            clock=clock,
        )  # fmt: skip

        async def venue_for(account_id: str) -> BalanceSource:
            return await services.venues.for_account(account_id)

        accounts = AccountData(
            services.db, venue_for, market, limits_for=limits_for, on_drawdown=on_drawdown,
            clock=clock,
        )  # fmt: skip
        events = services.events

        def feed_for(account_id: str) -> PrivateFeed | None:
            stream = None if events is None else events.streams.get(account_id)
            return None if stream is None else stream.feed

        if services.event_feed is not None:  # position changes go to the event log bots follow
            accounts.on_position = services.event_feed.position_changed
        engine = cls(
            market=market, accounts=accounts, activity=ActivityTracker(), states_for=states_for,
            limits_for=limits_for, on_signal=on_signal, on_state_change=on_state_change,
            feed_for=feed_for, seed_db=services.db, clock=clock,
        )  # fmt: skip
        engine._every.update(every_s or {})
        return engine

    # -- life cycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Seed key use, load rules and tickers once, then keep everything fresh (once)."""
        if self._started:
            return
        self._started = True
        if self._seed_db is not None:
            await self.activity.seed(self._seed_db)
        for name, load in (
            ("rules", self.market.refresh_rules),
            ("tickers", self.market.refresh_tickers),
        ):
            try:
                await load()
            except Exception:  # figures stay missing and orders are denied until a refresh works
                log.warning("risk %s load failed at start", name)
        await self.accounts.load_marks()
        loop = asyncio.get_running_loop()
        for name, job in (
            ("rules", self.market.refresh_rules),
            ("tickers", self.market.refresh_tickers),
            ("hot", self.market.refresh_hot),
            ("accounts", self.accounts.refresh_all),
            ("feeds", self._follow_balance_events),
        ):
            self._tasks.append(loop.create_task(self._every_s(name, job)))

    async def aclose(self) -> None:
        """Stop every background task and persist the latest peaks."""
        for handle in self._kick_later.values():
            handle.cancel()
        self._kick_later.clear()
        tasks, self._tasks = self._tasks, []
        tasks += list(self._balance_tasks.values())
        self._balance_tasks.clear()
        for task in tasks:
            await stop(task)
        try:
            await self.accounts.flush()
        except Exception:
            log.warning("risk equity marks not flushed at shutdown")

    async def _every_s(self, name: str, job: Callable[[], object]) -> None:
        period = self._every[name]
        while True:
            await asyncio.sleep(period)
            try:
                result = job()
                if asyncio.iscoroutine(result):
                    await result
            except Exception:  # a failed refresh lets figures age: the check fails closed
                log.info("risk %s refresh failed", name)

    def _follow_balance_events(self) -> None:
        """Refresh an account on each of its private balance events (its existing stream)."""
        if self._feed_for is None:
            return
        loop = asyncio.get_running_loop()
        for account_id in list(self.accounts.accounts):
            task = self._balance_tasks.get(account_id)
            if task is not None and not task.done():
                continue
            feed = self._feed_for(account_id)
            if feed is not None:
                self._balance_tasks[account_id] = loop.create_task(
                    self._balance_events(account_id, feed)
                )

    async def _balance_events(self, account_id: str, feed: PrivateFeed) -> None:
        async for change in feed.balances():
            self.on_balance_event(account_id)
            if self.report_balance is not None:
                try:
                    await self.report_balance(account_id, change)
                except Exception:  # a lost event must not stop the refreshes
                    log.exception("balance event not recorded: account=%s", account_id)

    def on_balance_event(self, account_id: str) -> None:
        """Refresh the account now, or once at the end of :attr:`balance_gap_s` if it just was."""
        if account_id in self._kick_later:
            return  # a refresh is already scheduled: it will see this change too
        loop = asyncio.get_running_loop()
        wait = self._last_kick.get(account_id, float("-inf")) + self.balance_gap_s - loop.time()
        if wait <= 0:
            self._kick_now(account_id)
            return

        def later() -> None:
            self._kick_later.pop(account_id, None)
            self._kick_now(account_id)

        self._kick_later[account_id] = loop.call_later(wait, later)

    def _kick_now(self, account_id: str) -> None:
        self._last_kick[account_id] = asyncio.get_running_loop().time()
        self.accounts.kick(account_id)

    # -- the per-order path ----------------------------------------------------------------------

    async def check(
        self,
        order: ProposedOrder | CancelRequest,
        *,
        tenant: str,
        account_id: str,
        key_id: str,
        source_ip: str | None,
        now: datetime | int,
    ) -> Decision:
        """The decision for one order (or cancel), with its state changes and signals applied."""
        if isinstance(order, CancelRequest):
            return CANCEL  # cancels always pass: halting must never trap an order on the book
        started, started_cpu = time.perf_counter(), time.thread_time()
        now_ms = epoch_ms(now)
        order = dataclasses.replace(order, tenant_id=tenant, account_id=account_id, key_id=key_id)
        limits = self._limits_for(tenant, account_id, key_id)
        states = self._states_for(tenant, account_id, key_id)
        first = self.accounts.follow(tenant, account_id)
        futures = order.market is MarketKind.FUTURES and self.accounts.use_futures(account_id)
        if first:
            await self._first_load(account_id)
        elif futures:  # its first futures order: read the positions it holds before deciding
            await self._reload(account_id)
        else:
            await self._first_load_running(account_id)
        market = await self.market.view(order.market, order.symbol, now_ms)
        decision = evaluate(
            order,
            market=market,
            account=self.accounts.view(account_id),
            activity=self.activity.snapshot(order, source_ip, now_ms),
            limits=limits,
            states=states,
            now_ms=now_ms,
        )
        self._apply(decision)
        if not decision.allowed:  # an attempt counts for the coordinated-buy detector
            self.activity.record_refused_buy(order, decision.notional, now_ms)
        self.costs.add(
            (time.perf_counter() - started) * 1e6, (time.thread_time() - started_cpu) * 1e6
        )
        return decision

    async def _first_load(self, account_id: str) -> None:
        task = self.accounts.kick(account_id)
        if task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), self._first_load_timeout_s)
        except TimeoutError:
            log.info("risk first load slow: account=%s", account_id)

    async def _reload(self, account_id: str) -> None:
        """A refresh that starts now (after any one running), waited for like a first load."""
        acc = self.accounts.accounts.get(account_id)
        running = None if acc is None else acc.refreshing
        if running is not None and not running.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(running), self._first_load_timeout_s)
        await self._first_load(account_id)

    async def _first_load_running(self, account_id: str) -> None:
        """A concurrent order of an account whose first load is under way waits for it too."""
        acc = self.accounts.accounts.get(account_id)
        if acc is None or acc.balances is not None:
            return
        task = acc.refreshing
        if task is None or task.done():
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), self._first_load_timeout_s)
        except TimeoutError:
            log.info("risk first load slow: account=%s", account_id)

    def _apply(self, decision: Decision) -> None:
        """State changes and signals go to the injected callbacks at once."""
        if self._on_state_change is not None:
            for change in decision.state_changes:
                self._on_state_change(change)
        if self._on_signal is not None:
            for signal in decision.signals:
                self._on_signal(signal)

    def record_submission(
        self,
        order: ProposedOrder,
        *,
        notional: Decimal | None,
        source_ip: str | None,
        now: datetime | int,
    ) -> None:
        """An accepted order joins the rate windows, daily totals, detector flow and key use."""
        now_ms = epoch_ms(now)
        self.activity.record(order, notional, source_ip, now_ms)

    def key_used(self, key_id: str, now: datetime | int) -> None:
        """An authenticated request of ``key_id``: not dormant (see ``kcgateway.risk.key_use``)."""
        self.activity.record_use(key_id, epoch_ms(now))

    def now(self) -> datetime:
        """The engine clock's now, as an aware datetime."""
        return datetime.fromtimestamp(self._clock.now_ms() / 1000, UTC)
