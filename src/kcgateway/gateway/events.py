"""Private order events from the stream move intents in real time; reconnects are reconciled.

For every connected account (one with a stored credential) an :class:`AccountStream` keeps a
:class:`~kcgateway.exchange.private_feed.PrivateFeed` (spot ``/spotMarket/tradeOrdersV2``) on
that account's own signed client, and one worker task per account applies, in arrival order:

- an order event: its clientOid's intent moves ``open``/``filled``/``cancelled`` through
  :meth:`OrderRouter.apply_exchange_event` (the router's compare-and-set plus audit; events that
  come late or twice change nothing). ``received`` and ``triggered`` carry no intent state;
- an event for a clientOid no intent knows: a stray scan (:meth:`OrderRouter.adopt_strays`) of
  the account, at most one queued at a time;
- a reconciliation pass, queued whenever the exchange acknowledges the subscription, i.e. at
  start and after every reconnect (KuCoin does not replay events missed while disconnected):
  each unsettled or open intent of the account is looked up by clientOid and moved the same
  way, then strays are adopted. A pass that fails (exchange down) is queued again later.

:class:`OrderEvents` rescans the accounts every ``rescan_s`` so that accounts connected or
removed while the gateway runs get or lose their stream. The spot feed carries spot and margin
orders; an account that has futures intents also gets a futures feed
(``/contractMarket/tradeOrders`` on the futures host), opened only then, since a key without
futures permission cannot open one. Each stream reconciles only the markets its feed reports.

With several instances (``leases`` given) only the accounts whose lease this instance holds get
a stream, and every item a stream applies is applied under that lease (fenced writes: a stale
epoch is refused). :meth:`OrderEvents.rescan` runs again whenever the leases this instance holds
change, so a stream follows its lease within one lease tick.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import Counter
from collections.abc import Callable

from sqlalchemy import select

from kcgateway.errors import KcgatewayError, LeaseLost
from kcgateway.exchange.private_feed import OrderChange, PrivateFeed
from kcgateway.exchange.rest import KuCoinClient
from kcgateway.exchange.ws import StreamMetrics
from kcgateway.gateway.event_feed import fill_event
from kcgateway.gateway.orders.lifecycle import Ownership, under_lease
from kcgateway.gateway.orders.markets import FUTURES, MARGIN, SPOT
from kcgateway.gateway.orders.router import OrderRouter
from kcgateway.gateway.stream_counts import StreamCounts
from kcgateway.gateway.venue import Venues
from kcgateway.store.database import Database
from kcgateway.store.tables import CredentialRow, OrderIntent
from kcgateway.store.types import OrderState
from kcgateway.tasks import stop_task

__all__ = ["AccountStream", "OrderEvents", "intent_state"]

log = logging.getLogger("kcgateway.gateway.events")
S = OrderState
FeedFactory = Callable[[KuCoinClient, StreamMetrics], PrivateFeed]
_EVENT_STATES = {
    "open": S.OPEN,
    "match": S.OPEN,
    "update": S.OPEN,
    "filled": S.FILLED,
    "canceled": S.CANCELLED,
}


def fill_data(change: OrderChange, market: str = SPOT) -> dict[str, object]:
    """The ``order.fill`` event's data of a ``match`` order event (money as strings). Pure.

    ``market`` is the feed's (spot: spot and margin orders; futures).
    """
    return {
        "market": market,
        "clientOid": change.client_oid or None,
        "exchangeOrderId": change.order_id,
        "tradeId": change.trade_id,
        "symbol": change.symbol,
        "side": change.side,
        "price": str(change.match_price) if change.match_price is not None else None,
        "size": str(change.match_size),
        "filledSize": str(change.filled_size),
        "remainSize": str(change.remain_size),
        "ts": change.ts,
    }


def intent_state(change: OrderChange) -> OrderState | None:
    """The intent state an order event reports, or None (``received``, ``triggered``). Pure."""
    return _EVENT_STATES.get(change.type)


class _Job(enum.Enum):
    RECONCILE = "reconcile"
    ADOPT = "adopt"


def _spot_feed(client: KuCoinClient, metrics: StreamMetrics) -> PrivateFeed:
    return PrivateFeed(client, metrics=metrics)


def _futures_feed(client: KuCoinClient, metrics: StreamMetrics) -> PrivateFeed:
    return PrivateFeed(client, futures=True, metrics=metrics)


class AccountStream:
    """One account's private feed and the worker that applies its events in order."""

    def __init__(
        self,
        account_id: str,
        db: Database,
        orders: OrderRouter,
        venues: Venues,
        feed: PrivateFeed,
        *,
        counts: StreamCounts,
        kind: str = "private_spot",
        markets: tuple[str, ...] = (SPOT, MARGIN),
        retry_s: float = 2.0,
        leases: Ownership | None = None,
    ) -> None:
        self.account_id = account_id
        self._leases = leases
        self.feed = feed
        self.applied: Counter[str] = Counter()  # "moved", "unchanged", "stray", "reconciled"
        self._db = db
        self._orders = orders
        self._venues = venues
        self._counts = counts
        self._kind = kind
        self._markets = markets  # what this feed reports (and its reconciliation looks up)
        self._retry_s = retry_s
        self._queue: asyncio.Queue[OrderChange | _Job] = asyncio.Queue()
        self._queued: set[_Job] = set()
        self._worker: asyncio.Task[None] | None = None
        self._retry: asyncio.TimerHandle | None = None
        self._retry_pending = False
        feed.on_order(self._queue.put_nowait)
        feed.on_subscribed(lambda _keys: self.request(_Job.RECONCILE))

    async def start(self) -> None:
        """Start the worker and subscribe (the acknowledgement queues the first pass)."""
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._work())
            await self.feed.start()

    def request(self, job: _Job) -> None:
        """Queue a reconciliation or stray scan unless one is already waiting."""
        if job not in self._queued:
            self._queued.add(job)
            self._queue.put_nowait(job)

    async def aclose(self) -> None:
        """Stop the feed and the worker (queued events are dropped: the next start reconciles)."""
        if self._retry is not None:
            self._retry.cancel()
        await self.feed.aclose()
        task, self._worker = self._worker, None
        await stop_task(task)

    async def _work(self) -> None:
        while True:
            item = await self._queue.get()
            if isinstance(item, _Job):
                self._queued.discard(item)
            fence = None if self._leases is None else self._leases.fence(self.account_id)
            if self._leases is not None and fence is None:
                continue  # the lease moved: its new owner's stream reconciles (rescan closes us)
            try:
                with under_lease(fence):
                    if isinstance(item, _Job):
                        await self._run_job(item)
                    else:
                        await self._apply(item)
            except LeaseLost:
                log.info("order stream stopped: account=%s lease lost", self.account_id)
            except KcgatewayError as exc:  # exchange down, account unusable or removed
                log.info(
                    "order stream work deferred: account=%s reason=%s",
                    self.account_id, type(exc).__name__,
                )  # fmt: skip
                self._retry_later()
            except Exception:  # one bad event must not stop the account's stream
                log.exception("order stream work failed: account=%s", self.account_id)

    async def _apply(self, change: OrderChange) -> None:
        if change.type == "match" and change.match_size:
            market = FUTURES if FUTURES in self._markets else SPOT
            fill = fill_data(change, market)
            await self._orders.intents.report([fill_event(self.account_id, fill)])
        state = intent_state(change)
        if state is None:
            return
        moved = None
        if change.client_oid:
            moved = await self._orders.apply_exchange_event(
                self.account_id, change.client_oid, state, change.order_id
            )
        if moved is None:
            self.applied["stray"] += 1
            if state is S.OPEN:  # a done stray has nothing left to adopt
                self.request(_Job.ADOPT)
        else:
            self.applied["moved" if moved else "unchanged"] += 1

    async def _run_job(self, job: _Job) -> None:
        if job is _Job.RECONCILE:
            await self._reconcile()
        await self._orders.adopt_strays(self.account_id)

    async def _reconcile(self) -> None:
        # raises on the first failure: the worker defers and retries the whole pass
        await self._orders.reconcile_account(self.account_id, self._markets)
        self.applied["reconciled"] += 1
        self._counts.count(self._kind, "resync")

    def _retry_later(self) -> None:
        if not self._retry_pending:
            self._retry_pending = True
            self._retry = asyncio.get_running_loop().call_later(self._retry_s, self._retry_now)

    def _retry_now(self) -> None:
        self._retry_pending = False
        self.request(_Job.RECONCILE)


class OrderEvents:
    """An :class:`AccountStream` for every connected account, kept in step with the database."""

    def __init__(
        self,
        db: Database,
        orders: OrderRouter,
        venues: Venues,
        *,
        counts: StreamCounts | None = None,
        feed_factory: FeedFactory = _spot_feed,
        futures_feed_factory: FeedFactory = _futures_feed,
        rescan_s: float = 10.0,
        retry_s: float = 2.0,
        leases: Ownership | None = None,
    ) -> None:
        self.counts = counts or StreamCounts()
        #: the accounts this instance owns (None: every connected account, a single instance)
        self.leases = leases
        self.streams: dict[str, AccountStream] = {}
        #: accounts with futures intents also follow the futures order feed
        self.futures_streams: dict[str, AccountStream] = {}
        self._db = db
        self._orders = orders
        self._venues = venues
        self._feed_factory = feed_factory
        self._futures_feed_factory = futures_feed_factory
        self._rescan_s = rescan_s
        self._retry_s = retry_s
        self._task: asyncio.Task[None] | None = None
        self._rescanning = asyncio.Lock()  # the periodic rescan and a lease change's

    def start(self) -> None:
        """Start following the accounts (rescanned every ``rescan_s``)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._follow())

    async def rescan(self) -> None:
        """Open streams for new connected accounts and close those of removed ones."""
        async with self._rescanning:
            await self._rescan()

    async def _rescan(self) -> None:
        query = select(CredentialRow.account_id).where(CredentialRow.account_id.is_not(None))
        trading_futures = select(OrderIntent.account_id).where(OrderIntent.market == FUTURES)
        async with self._db.read() as session:
            connected = {a for a in (await session.scalars(query)).all() if a is not None}
            if self.leases is not None:
                connected = {a for a in connected if self.leases.fence(a) is not None}
            futures = set((await session.scalars(trading_futures.distinct())).all()) & connected
        await self._keep(
            self.streams, connected, self._feed_factory, "private_spot", (SPOT, MARGIN)
        )
        await self._keep(
            self.futures_streams, futures, self._futures_feed_factory, "private_futures", (FUTURES,)
        )

    async def _keep(
        self,
        streams: dict[str, AccountStream],
        wanted: set[str],
        factory: FeedFactory,
        kind: str,
        markets: tuple[str, ...],
    ) -> None:
        for account_id in sorted(set(streams) - wanted):
            await streams.pop(account_id).aclose()
        for account_id in sorted(wanted - set(streams)):
            venue = await self._venues.for_account(account_id)
            feed = factory(venue.client, self.counts.for_kind(kind))
            stream = AccountStream(
                account_id, self._db, self._orders, self._venues, feed,
                counts=self.counts, kind=kind, markets=markets, retry_s=self._retry_s,
                leases=self.leases,
            )  # fmt: skip
            streams[account_id] = stream
            await stream.start()

    async def _follow(self) -> None:
        while True:
            try:
                await self.rescan()
            except Exception:  # the next rescan tries again
                log.exception("order stream rescan failed")
            await asyncio.sleep(self._rescan_s)

    async def aclose(self) -> None:
        """Stop rescanning and close every account's stream."""
        task, self._task = self._task, None
        await stop_task(task)
        streams = [*self.streams.values(), *self.futures_streams.values()]
        self.streams, self.futures_streams = {}, {}
        for stream in streams:
            await stream.aclose()
