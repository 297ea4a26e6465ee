"""What the risk engine knows, kept in memory and refreshed in the background.

The pure check (:mod:`kcgateway.risk`) reads stamped figures; this module keeps them:

- :class:`MarketData`: symbol rules and futures contracts (refreshed every ``rules_every_s``),
  24 h quote volume, volume rank and a slow baseline price from ``allTickers`` (every
  ``tickers_every_s``, never per order), the last price of the symbols in use (polled every
  ``hot_every_s`` from level 1), and the book from the gateway's :class:`BookService` (its
  stream when live, its REST fallback otherwise; no second feed is opened).
- :class:`AccountData`: balances, positions and open orders (the gateway's own unsettled
  intents) of every followed account, equity marked to market, and its peak and start-of-day
  equity, persisted in ``risk_equity_marks`` so a restart does not reset the drawdown check.
  Every equity update runs :func:`~kcgateway.risk.assess_drawdown` and reports a change of the
  verdict through the injected ``on_drawdown`` callback at once.
- :class:`ActivityTracker`: submissions per key and per account, daily count and turnover
  (reset at 00:00 UTC), the recent orders of each account, each key's use (every authenticated
  request, through :meth:`ActivityTracker.record_use`; seeded from ``gateway_keys.last_used_at``;
  see :mod:`kcgateway.risk.key_use`) and known source addresses, and the gateway-wide recent buys
  of each symbol (for ``coordinated_buy``).

Every figure carries the time it was true; nothing missing is ever filled with a guess (the
pure check denies with ``risk.stale_data`` instead).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol

import msgspec
from sqlalchemy import select

from kcgateway.clock import Clock
from kcgateway.exchange.rest import KuCoinClient
from kcgateway.gateway.books import BookService
from kcgateway.kucoin import models as m
from kcgateway.risk import (
    AccountView,
    Book,
    DrawdownVerdict,
    Limits,
    MarketKind,
    MarketView,
    OpenOrder,
    Position,
    ProposedOrder,
    RecentActivity,
    RecentOrder,
    Side,
    Stamped,
    SymbolRules,
    TradingState,
    assess_drawdown,
    mark_equity,
)
from kcgateway.risk.key_use import KeyUse
from kcgateway.store.database import Database
from kcgateway.store.tables import GatewayKey, OrderIntent, RiskEquityMark
from kcgateway.store.types import OrderState
from kcgateway.tasks import stop_task

__all__ = [
    "AccountData",
    "ActivityTracker",
    "BalanceSource",
    "LimitsFor",
    "MarketData",
    "day_of",
]

log = logging.getLogger("kcgateway.gateway.risk")

DAY_MS = 86_400_000
ZERO = Decimal(0)
LISTED_FOR_MS = 300_000
"""A symbol list this recent (the rules' freshness bound) decides that a symbol is unknown."""
SPOT_VENUE = "spot"
FUTURES_VENUE = "futures"
#: intents that may still rest at the exchange (counted as open orders)
OPEN_STATES = (
    OrderState.RECEIVED,
    OrderState.RISK_OK,
    OrderState.PERSISTED,
    OrderState.SENT,
    OrderState.ACKED,
    OrderState.UNKNOWN,
    OrderState.OPEN,
)


class LimitsFor(Protocol):
    """``riskctl``'s resolver: the limits of a tenant, account and key (None: no key)."""

    def __call__(self, tenant_id: str, account_id: str, key_id: str | None) -> Limits:
        """The resolved limits."""
        ...


class BalanceSource(Protocol):
    """What the engine needs of an account's exchange access (``AccountVenue`` fits)."""

    client: KuCoinClient

    async def balances(self) -> list[m.Account]:
        """Every balance of the account."""
        ...


def venue_of(market: MarketKind) -> str:
    """Spot and margin share the spot market data; futures has its own."""
    return FUTURES_VENUE if market is MarketKind.FUTURES else SPOT_VENUE


def day_of(now_ms: int) -> str:
    """The UTC date of ``now_ms`` as ``YYYY-MM-DD``."""
    return datetime.fromtimestamp(now_ms / 1000, UTC).strftime("%Y-%m-%d")


def spot_rules(s: m.Symbol) -> SymbolRules:
    """The risk view of a spot symbol."""
    return SymbolRules(
        symbol=s.symbol,
        base=s.base_currency,
        quote=s.quote_currency,
        tradable=s.enable_trading,
        price_increment=s.price_increment,
        size_increment=s.base_increment,
        price_limit_rate=s.price_limit_rate,
    )


def contract_rules(c: m.FuturesContract) -> SymbolRules:
    """The risk view of a futures contract (multiplier, inverse)."""
    return SymbolRules(
        symbol=c.symbol,
        base=c.base_currency,
        quote=c.quote_currency,
        tradable=c.status.lower() == "open",
        price_increment=c.tick_size,
        size_increment=c.lot_size,
        multiplier=c.multiplier,
        inverse=c.is_inverse,
    )


# -- market ---------------------------------------------------------------------------------------


class _Turnover(msgspec.Struct, frozen=True):
    """The 24 h quote turnover of one ``/api/v1/contracts/active`` item."""

    symbol: str
    turnover_of24h: Decimal | None = msgspec.field(default=None, name="turnoverOf24h")


class MarketData:
    """Market figures per (venue, symbol), each with its time (see the module docstring)."""

    def __init__(
        self,
        client: KuCoinClient,
        *,
        books: BookService | None,
        futures_books: BookService | None,
        clock: Clock,
        depth: int = 20,
        baseline_weight: Decimal = Decimal("0.05"),
        hot_idle_ms: int = 600_000,
        batch_above: int = 7,
        quote: str = "USDT",
    ) -> None:
        self.client = client
        self.batch_above = batch_above
        self.quote = quote
        self._books = {SPOT_VENUE: books, FUTURES_VENUE: futures_books}
        self._clock = clock
        self._depth = depth
        self._weight = baseline_weight
        self._hot_idle_ms = hot_idle_ms
        self.rules: dict[tuple[str, str], Stamped[SymbolRules]] = {}
        #: when each venue's whole symbol (contract) list was last read
        self.listed_at: dict[str, int] = {}
        self.volume: dict[tuple[str, str], Stamped[Decimal]] = {}
        self.rank: dict[tuple[str, str], Stamped[int]] = {}
        self.baseline: dict[tuple[str, str], Stamped[Decimal]] = {}
        self.last: dict[tuple[str, str], Stamped[Decimal]] = {}
        self._hot: dict[tuple[str, str], int] = {}  # (venue, symbol) -> last asked (ms)
        #: the spot symbol quoting each currency in ``quote`` (for marking balances)
        self._pair_of: dict[str, str] = {}

    # refreshes (background) -----------------------------------------------------------------

    async def refresh_rules(self) -> None:
        """Spot symbols (this also refreshes the client's rules cache) and futures contracts."""
        at = self._clock.now_ms()
        symbols = await self.client.market.symbols()
        for s in symbols:
            self.rules[(SPOT_VENUE, s.symbol)] = Stamped(spot_rules(s), at)
            if s.quote_currency == self.quote:
                self._pair_of[s.base_currency] = s.symbol
        self.listed_at[SPOT_VENUE] = at
        if self._books[FUTURES_VENUE] is not None:
            at = self._clock.now_ms()
            raw = await self.client.call("futures.contracts_active")
            for c in m.parse_contracts(raw):
                self.rules[(FUTURES_VENUE, c.symbol)] = Stamped(contract_rules(c), at)
                self._observe((FUTURES_VENUE, c.symbol), c.last_trade_price or c.mark_price, at)
            self.listed_at[FUTURES_VENUE] = at
            # the contract list also carries the 24 h turnover, which the core model leaves out
            turnovers: list[_Turnover] = m.parse_as(list[_Turnover], raw)
            ranked = sorted(turnovers, key=lambda t: t.turnover_of24h or ZERO, reverse=True)
            for rank, t in enumerate(ranked, start=1):
                if t.turnover_of24h is not None:
                    key = (FUTURES_VENUE, t.symbol)
                    self.volume[key] = Stamped(t.turnover_of24h, at)
                    self.rank[key] = Stamped(rank, at)

    async def refresh_tickers(self) -> None:
        """24 h volume, volume rank, and the baseline price, from one ``allTickers`` call."""
        at = self._clock.now_ms()
        tickers = (await self.client.market.all_tickers()).ticker
        ranked = sorted(tickers, key=lambda t: t.vol_value or ZERO, reverse=True)
        for rank, t in enumerate(ranked, start=1):
            key = (SPOT_VENUE, t.symbol)
            if t.vol_value is not None:
                self.volume[key] = Stamped(t.vol_value, at)
                self.rank[key] = Stamped(rank, at)
            self._observe(key, t.last, at)

    def _observe(self, key: tuple[str, str], last: Decimal | None, at: int) -> None:
        """A last price from a list refresh: moves the slow baseline (and an old last price)."""
        if last is None or last <= 0:
            return
        if key not in self.last or self.last[key].as_of_ms < at - 60_000:
            self.last[key] = Stamped(last, at)  # symbols in use are polled more often
        old = self.baseline.get(key)
        base = last if old is None else old.value + (last - old.value) * self._weight
        self.baseline[key] = Stamped(base, at)

    async def refresh_hot(self) -> None:
        """The last price of every symbol in use (asked for within ``hot_idle_ms``).

        Up to ``batch_above`` spot symbols are polled one by one (level 1, weight 2 each);
        more are read from one ``allTickers`` call (weight 15), which costs less budget.
        """
        now = self._clock.now_ms()
        for key, asked in list(self._hot.items()):
            if now - asked >= self._hot_idle_ms:
                del self._hot[key]
        spot = [k for k in self._hot if k[0] == SPOT_VENUE]
        batch = len(spot) > self.batch_above
        if batch:
            at = self._clock.now_ms()
            for t in (await self.client.market.all_tickers()).ticker:
                if t.last is not None and t.last > 0:
                    self.last[(SPOT_VENUE, t.symbol)] = Stamped(t.last, at)
        for key in list(self._hot):
            if not (batch and key[0] == SPOT_VENUE):
                await self._poll_last(key)

    async def _poll_last(self, key: tuple[str, str]) -> None:
        venue, symbol = key
        at = self._clock.now_ms()
        try:
            if venue == FUTURES_VENUE:
                fut = await self.client.futures.ticker(symbol)
                price: Decimal | None = fut.price
            else:
                price = (await self.client.market.ticker(symbol)).price
        except Exception:  # one failed poll leaves the figure to age (and deny when stale)
            log.info("last price poll failed: %s", symbol)
            return
        if price is not None and price > 0:
            self.last[key] = Stamped(price, at)

    def use(self, venue: str, symbol: str, now_ms: int) -> bool:
        """Mark a symbol in use (its last price is polled); True when it was not yet."""
        key = (venue, symbol)
        new = key not in self._hot
        self._hot[key] = now_ms
        return new

    def use_currencies(self, currencies: Iterable[str], now_ms: int) -> None:
        """Poll the prices that mark these holdings."""
        for currency in currencies:
            pair = self._pair_of.get(currency)
            if pair is not None:
                self._hot[(SPOT_VENUE, pair)] = now_ms

    # reads (per order) -------------------------------------------------------------------------

    def price_of(self, currency: str) -> Stamped[Decimal] | None:
        """The value of one unit of ``currency`` in the quote currency, with its time."""
        if currency == self.quote:
            return Stamped(Decimal(1), self._clock.now_ms())
        pair = self._pair_of.get(currency)
        return None if pair is None else self.last.get((SPOT_VENUE, pair))

    def unlisted(self, venue: str, symbol: str, now_ms: int) -> bool:
        """The venue's list, read within :data:`LISTED_FOR_MS`, does not hold ``symbol``."""
        at = self.listed_at.get(venue)
        if at is None or now_ms - at > LISTED_FOR_MS:
            return False  # no current list: the rules' freshness check decides (fail closed)
        rules = self.rules.get((venue, symbol))
        return rules is None or rules.as_of_ms < at  # never listed, or not in the last list

    async def view(self, market: MarketKind, symbol: str, now_ms: int) -> MarketView:
        """The market view of one symbol: memory, plus the book service's book."""
        venue = venue_of(market)
        key = (venue, symbol)
        if self.unlisted(venue, symbol, now_ms):  # nothing to read (and nothing to poll)
            return MarketView(symbol, None, None, None, None, None, None, None, None, listed=False)
        if self.use(venue, symbol, now_ms) and key not in self.last:
            await self._poll_last(key)  # first order on this symbol: one level-1 read
        book = await self._book(venue, symbol, now_ms)
        bid = ask = None
        if book is not None:
            if book.value.bids:
                bid = Stamped(book.value.bids[0][0], book.as_of_ms)
            if book.value.asks:
                ask = Stamped(book.value.asks[0][0], book.as_of_ms)
        return MarketView(
            symbol=symbol,
            rules=self.rules.get(key),
            best_bid=bid,
            best_ask=ask,
            last_price=self.last.get(key),
            book=book,
            volume_24h=self.volume.get(key),
            volume_rank=self.rank.get(key),
            baseline_price=self.baseline.get(key),
        )

    async def _book(self, venue: str, symbol: str, now_ms: int) -> Stamped[Book] | None:
        books = self._books[venue]
        if books is None:
            return None
        try:
            view = await books.book(symbol, self._depth)
        except Exception:  # unknown symbol, exchange down: no book, the check fails closed
            log.info("risk book read failed: %s", symbol)
            return None
        # a live stream book is current now (a lost connection makes the service answer from
        # REST); a REST snapshot is as old as the exchange says
        at = now_ms if view.source == "stream" else view.timestamp
        return Stamped(Book(view.bids, view.asks), at)


# -- accounts -------------------------------------------------------------------------------------


@dataclass
class _Account:
    tenant_id: str
    balances: Stamped[Mapping[str, Decimal]] | None = None
    positions: Stamped[Mapping[str, Position]] | None = None
    open_orders: Stamped[tuple[OpenOrder, ...]] | None = None
    equity: Stamped[Decimal] | None = None
    peak: Stamped[Decimal] | None = None
    day_start: Stamped[Decimal] | None = None
    day: str = ""
    saved_peak: Decimal | None = None
    saved_at_ms: int = 0
    verdict: TradingState = TradingState.ACTIVE
    #: read the futures positions and account (see AccountData.use_futures)
    futures: bool = False
    #: whether the intents were asked once if the account ever traded futures here
    futures_asked: bool = False
    #: the open futures positions' quantities at the last read (None before the first)
    futures_qty: dict[str, Decimal] | None = None
    refreshing: asyncio.Task[None] | None = field(default=None, repr=False)


DrawdownCallback = Callable[[str, str, DrawdownVerdict], None]
VenueFor = Callable[[str], Awaitable[BalanceSource]]
#: (account id, symbol, the position now or None once closed, its quantity before)
PositionCallback = Callable[[str, str, "m.Position | None", Decimal], Awaitable[None]]


class AccountData:
    """Balances, positions, open orders and equity of the followed accounts (see the module)."""

    def __init__(
        self,
        db: Database,
        venue_for: VenueFor,
        market: MarketData,
        *,
        limits_for: LimitsFor,
        on_drawdown: DrawdownCallback | None,
        clock: Clock,
        save_every_ms: int = 30_000,
    ) -> None:
        self._db = db
        self._venue_for = venue_for
        self._market = market
        self._limits_for = limits_for
        self._on_drawdown = on_drawdown
        self._clock = clock
        self._save_every_ms = save_every_ms
        #: told each futures position whose quantity changed between two reads (the first read
        #: of an account is its baseline: nothing is told then)
        self.on_position: PositionCallback | None = None
        self.accounts: dict[str, _Account] = {}

    def follow(self, tenant_id: str, account_id: str) -> bool:
        """Keep this account's figures fresh; True when it was not followed yet."""
        if account_id in self.accounts:
            return False
        self.accounts[account_id] = _Account(tenant_id)
        return True

    def view(self, account_id: str) -> AccountView:
        """What is known of the account (all None when it was never loaded)."""
        acc = self.accounts.get(account_id)
        if acc is None:
            return AccountView(account_id, None, None, None, None, None, None)
        return AccountView(
            account_id, acc.balances, acc.positions, acc.open_orders, acc.equity, acc.peak,
            acc.day_start,
        )  # fmt: skip

    def use_futures(self, account_id: str) -> bool:
        """Read this followed account's futures positions from now on; True if it did not yet.

        Said by the engine for each futures order it judges, so that the positions the
        account already holds count before the order is decided. (Before, positions were read
        only for an account seen with an OPEN futures order at a refresh: market orders that
        filled between refreshes, or positions held at a restart, were never counted.)
        """
        acc = self.accounts.get(account_id)
        if acc is None or acc.futures:
            return False
        acc.futures = True
        return True

    def kick(self, account_id: str) -> asyncio.Task[None] | None:
        """Refresh the account now (a balance event) unless a refresh is already running."""
        acc = self.accounts.get(account_id)
        if acc is None:
            return None
        if acc.refreshing is None or acc.refreshing.done():
            acc.refreshing = asyncio.get_running_loop().create_task(self._guarded(account_id))
        return acc.refreshing

    async def _guarded(self, account_id: str) -> None:
        try:
            await self.refresh(account_id)
        except Exception:  # the figures age and the check fails closed; the next pass retries
            log.info("risk account refresh failed: account=%s", account_id)

    async def refresh_all(self) -> None:
        """Refresh every followed account (concurrently, one refresh per account at a time)."""
        tasks = [t for a in list(self.accounts) if (t := self.kick(a)) is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def refresh(self, account_id: str) -> None:
        """Read balances (and futures positions), the open intents, mark equity, track drawdown."""
        acc = self.accounts[account_id]
        venue = await self._venue_for(account_id)
        at = self._clock.now_ms()
        totals: dict[str, Decimal] = {}
        for row in await venue.balances():
            totals[row.currency] = totals.get(row.currency, ZERO) + row.balance
        rows = await self._open_intents(account_id)
        acc.futures = acc.futures or any(r.market == "futures" for r in rows)
        if not acc.futures and not acc.futures_asked:  # a restart: positions held from before
            acc.futures = await self._traded_futures(account_id)
            acc.futures_asked = True
        futures_equity = ZERO  # the futures account is not in the spot balance list
        positions: dict[str, Position] = {}
        if acc.futures:
            futures = venue.client.futures
            futures_equity = (await futures.account_overview(self._market.quote)).account_equity
            held_now = [p for p in await futures.positions() if p.is_open and p.current_qty != 0]
            await self._tell_positions(account_id, acc, held_now)
            for p in held_now:
                rules = self._market.rules.get((FUTURES_VENUE, p.symbol))
                mark = p.mark_price
                if rules is None or mark is None:
                    raise LookupError(f"no rules or mark price for {p.symbol}")
                notional = abs(p.current_qty) * mark * abs(rules.value.multiplier)
                positions[p.symbol] = Position(p.current_qty, notional, MarketKind.FUTURES)
        held = [c for c, amount in totals.items() if amount != 0]
        self._market.use_currencies(held, at)
        prices: dict[str, Decimal] = {}
        priced_at = at
        for currency in held:
            price = self._market.price_of(currency)
            if price is None:
                continue
            prices[currency] = price.value
            priced_at = min(priced_at, price.as_of_ms)
            if currency != self._market.quote:
                qty = totals[currency]
                positions[currency] = Position(qty, abs(qty) * price.value, MarketKind.SPOT)
        complete = all(c in prices for c in held)
        acc.balances = Stamped(totals, at)
        acc.open_orders = Stamped(self._open_orders(rows), at)
        # a holding without a price leaves positions and equity unknown: never a guess
        acc.positions = Stamped(positions, min(at, priced_at)) if complete else None
        equity = mark_equity(totals, prices, futures_equity) if complete else None
        if equity is None:
            acc.equity = None
            return
        acc.equity = Stamped(equity, min(at, priced_at))
        await self._track(account_id, acc, equity, at)

    async def _tell_positions(self, account_id: str, acc: _Account, held: list[m.Position]) -> None:
        """Tell :attr:`on_position` each position whose quantity moved since the last read."""
        before, acc.futures_qty = acc.futures_qty, {p.symbol: p.current_qty for p in held}
        if before is None or self.on_position is None:
            return
        now = {p.symbol: p for p in held}
        for symbol in sorted(before.keys() | now.keys()):
            position = now.get(symbol)
            previous = before.get(symbol, ZERO)
            if (ZERO if position is None else position.current_qty) == previous:
                continue
            try:
                await self.on_position(account_id, symbol, position, previous)
            except Exception:  # a lost event must not stop the figures' refresh
                log.exception("position change not recorded: account=%s", account_id)

    async def _traded_futures(self, account_id: str) -> bool:
        query = select(OrderIntent.id).where(
            OrderIntent.account_id == account_id, OrderIntent.market == "futures"
        )
        async with self._db.read() as session:
            return (await session.scalar(query.limit(1))) is not None

    async def _open_intents(self, account_id: str) -> list[OrderIntent]:
        query = select(OrderIntent).where(
            OrderIntent.account_id == account_id, OrderIntent.state.in_(OPEN_STATES)
        )
        async with self._db.read() as session:
            return list((await session.scalars(query)).all())

    def _open_orders(self, rows: list[OrderIntent]) -> tuple[OpenOrder, ...]:
        """The unsettled intents as open orders, at their full size (never under-counted)."""
        found: list[OpenOrder] = []
        for r in rows:
            futures = r.market == "futures"
            venue = FUTURES_VENUE if futures else SPOT_VENUE
            rules = self._market.rules.get((venue, r.symbol))
            last = self._market.last.get((venue, r.symbol))
            price = r.price if r.price is not None else (last.value if last else None)
            mult = abs(rules.value.multiplier) if rules is not None else Decimal(1)
            if r.size is not None and price is not None:
                qty, notional = r.size, r.size * price * mult
            elif r.funds is not None and price is not None and price > 0:
                qty, notional = r.funds / price, r.funds
            else:
                raise LookupError(f"open order on {r.symbol} cannot be priced")
            key = r.symbol if futures or rules is None else rules.value.base
            found.append(
                OpenOrder(key, r.symbol, Side(r.side), qty, notional, reduce_only=r.reduce_only)
            )
        return tuple(found)

    async def load_marks(self) -> None:
        """Read the persisted peak and start-of-day equity of every account."""
        async with self._db.read() as session:
            rows = (await session.scalars(select(RiskEquityMark))).all()
        for row in rows:
            acc = self.accounts.get(row.account_id)
            if acc is None:
                continue
            ms = int(row.updated_at.timestamp() * 1000)
            acc.peak = Stamped(row.peak_equity, ms)
            acc.saved_peak = row.peak_equity
            acc.day, acc.day_start = row.day, Stamped(row.day_start_equity, ms)

    async def _load_mark(self, account_id: str, acc: _Account) -> None:
        async with self._db.read() as session:
            row = await session.get(RiskEquityMark, account_id)
        if row is not None:
            ms = int(row.updated_at.timestamp() * 1000)
            acc.peak, acc.saved_peak = Stamped(row.peak_equity, ms), row.peak_equity
            acc.day, acc.day_start = row.day, Stamped(row.day_start_equity, ms)

    async def _track(self, account_id: str, acc: _Account, equity: Decimal, at: int) -> None:
        """Peak and day start (persisted), then the drawdown verdict (reported on change)."""
        if acc.peak is None:
            await self._load_mark(account_id, acc)
        today = day_of(at)
        rolled = acc.day != today or acc.day_start is None
        day_start = equity if rolled or acc.day_start is None else acc.day_start.value
        peak = equity if acc.peak is None or equity > acc.peak.value else acc.peak.value
        acc.day, acc.day_start, acc.peak = today, Stamped(day_start, at), Stamped(peak, at)
        grew = acc.saved_peak is None or peak > acc.saved_peak
        if rolled or (grew and at - acc.saved_at_ms >= self._save_every_ms):
            await self._save(account_id, acc.day, peak, day_start, at)
            acc.saved_peak, acc.saved_at_ms = peak, at
        limits = self._limits_for(acc.tenant_id, account_id, None)
        verdict = assess_drawdown(equity, peak, day_start, limits)
        if verdict.state is not acc.verdict:
            acc.verdict = verdict.state
            if self._on_drawdown is not None:
                self._on_drawdown(acc.tenant_id, account_id, verdict)

    async def _save(
        self, account_id: str, day: str, peak: Decimal, day_start: Decimal, at: int
    ) -> None:
        when = datetime.fromtimestamp(at / 1000, UTC)
        async with self._db.write() as session:
            row = await session.get(RiskEquityMark, account_id)
            if row is None:
                row = RiskEquityMark(account_id=account_id, peak_at=when, peak_equity=peak)
                session.add(row)
            elif peak != row.peak_equity:
                row.peak_at = when
            row.peak_equity = peak
            row.day = day
            row.day_start_equity = day_start
            row.updated_at = when

    async def flush(self) -> None:
        """Persist every account's latest peak (at shutdown)."""
        now = self._clock.now_ms()
        for account_id, acc in self.accounts.items():
            if acc.peak is None or acc.day_start is None or acc.saved_peak == acc.peak.value:
                continue
            await self._save(account_id, acc.day, acc.peak.value, acc.day_start.value, now)
            acc.saved_peak, acc.saved_at_ms = acc.peak.value, now


# -- activity -------------------------------------------------------------------------------------


@dataclass
class _Daily:
    day: int = -1
    count: int = 0
    turnover: Decimal = ZERO


class ActivityTracker:
    """Recent order flow per key, per account and gateway-wide (see the module docstring)."""

    def __init__(self, *, keep_ms: int = 600_000) -> None:
        self.keep_ms = keep_ms
        self._key_subs: dict[str, deque[int]] = {}
        self._account_subs: dict[str, deque[int]] = {}
        self._daily: dict[str, _Daily] = {}
        self._recent: dict[str, deque[RecentOrder]] = {}
        self._buys: dict[str, deque[RecentOrder]] = {}
        #: each key's use (any authenticated request) for the dormant-key detector
        self.key_uses: dict[str, KeyUse] = {}
        self.known_ips: dict[str, set[str]] = {}

    async def seed(self, db: Database) -> None:
        """The keys' last use from ``gateway_keys.last_used_at`` (at start)."""
        query = select(GatewayKey.key_id, GatewayKey.last_used_at)
        async with db.read() as session:
            for key_id, used in (await session.execute(query)).all():
                if used is not None and key_id not in self.key_uses:
                    self.key_uses[key_id] = KeyUse(last_ms=int(used.timestamp() * 1000))

    def record_use(self, key_id: str, now_ms: int) -> None:
        """An authenticated request of ``key_id`` (the key service calls this on every one)."""
        self.key_uses.setdefault(key_id, KeyUse()).used(now_ms)

    def record(
        self, order: ProposedOrder, notional: Decimal | None, source_ip: str | None, now_ms: int
    ) -> None:
        """An order the gateway accepted (after the check allowed it)."""
        self._key_subs.setdefault(order.key_id, deque()).append(now_ms)
        self._account_subs.setdefault(order.account_id, deque()).append(now_ms)
        daily = self._daily.setdefault(order.account_id, _Daily())
        day = now_ms // DAY_MS
        if daily.day != day:
            daily.day, daily.count, daily.turnover = day, 0, ZERO
        daily.count += 1
        daily.turnover += notional or ZERO
        seen = RecentOrder(
            order.tenant_id, order.account_id, order.key_id, order.symbol, order.side,
            order.order_type, order.price, order.size, order.funds, notional or ZERO, now_ms,
            order.market,
        )  # fmt: skip
        self._recent.setdefault(order.account_id, deque()).append(seen)
        if order.side is Side.BUY:
            self._buys.setdefault(order.symbol, deque()).append(seen)
        self.key_uses.setdefault(order.key_id, KeyUse()).traded(now_ms)
        if source_ip:
            self.known_ips.setdefault(order.key_id, set()).add(source_ip)

    def record_refused_buy(
        self, order: ProposedOrder, notional: Decimal | None, now_ms: int
    ) -> None:
        """A buy the check refused still joins its symbol's gateway-wide buy flow.

        ``coordinated_buy`` looks for many accounts going for one thin symbol within a few
        minutes. In the 3Commas pattern the stolen keys' buys are refused (their accounts are
        already halted, or the thin-symbol guard refuses them), and counting only accepted buys
        would hide exactly the burst the signal is for: an attempt is evidence enough. Refused
        orders stay out of the rate windows, daily totals and the account's recent orders.
        """
        if order.side is not Side.BUY:
            return
        seen = RecentOrder(
            order.tenant_id, order.account_id, order.key_id, order.symbol, order.side,
            order.order_type, order.price, order.size, order.funds, notional or ZERO, now_ms,
            order.market,
        )  # fmt: skip
        self._buys.setdefault(order.symbol, deque()).append(seen)

    def _prune(self, items: deque[int] | None, since: int) -> tuple[int, ...]:
        if items is None:
            return ()
        while items and items[0] <= since:
            items.popleft()
        return tuple(items)

    def _prune_orders(
        self, items: deque[RecentOrder] | None, since: int
    ) -> tuple[RecentOrder, ...]:
        if items is None:
            return ()
        while items and items[0].at_ms <= since:
            items.popleft()
        return tuple(items)

    def snapshot(self, order: ProposedOrder, source_ip: str | None, now_ms: int) -> RecentActivity:
        """The order's key, account and symbol flow as of now (oldest entries dropped)."""
        since = now_ms - self.keep_ms
        daily = self._daily.get(order.account_id)
        today = daily is not None and daily.day == now_ms // DAY_MS
        use = self.key_uses.get(order.key_id)
        idle_from, idle_to = use.view(now_ms) if use is not None else (None, None)
        return RecentActivity(
            as_of_ms=now_ms,
            key_submissions_ms=self._prune(self._key_subs.get(order.key_id), since),
            account_submissions_ms=self._prune(self._account_subs.get(order.account_id), since),
            daily_order_count=daily.count if daily is not None and today else 0,
            daily_turnover=daily.turnover if daily is not None and today else ZERO,
            recent_orders=self._prune_orders(self._recent.get(order.account_id), since),
            key_last_used_ms=idle_from,
            key_idle_until_ms=idle_to,
            key_known_ips=frozenset(self.known_ips.get(order.key_id, ())),
            source_ip=source_ip,
            symbol_buys=self._prune_orders(self._buys.get(order.symbol), since),
        )


async def stop(task: asyncio.Task[None] | None) -> None:
    """Cancel a background task and wait for it."""
    await stop_task(task)
