"""Replay a simulator scenario's whole order flow through the pure pre-trade check.

:class:`FlowReplay` wraps the scenario desk's ``place``: before each order reaches the
simulator's engine it builds the views the gateway's engine would have at that moment (the
book, ticker, 24 h volume and rank, a slowly following baseline price, the account's balances,
positions and open orders, its recent flow and the gateway-wide buys of the symbol), all stamped
with the order's compressed scenario time, and calls :func:`kcgateway.risk.evaluate` with that
time as ``now_ms``. State changes are applied to the replay's own trading states (as
RiskControl would), signals and blocked symbols are collected. The order is then placed as the
script wanted (the flow stays the script's).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from kcgateway.risk import (
    AccountView,
    ActionKind,
    Book,
    Decision,
    Limits,
    MarketKind,
    MarketView,
    OpenOrder,
    OrderType,
    Position,
    ProposedOrder,
    RecentActivity,
    RecentOrder,
    Side,
    Signal,
    Stamped,
    SymbolRules,
    TradingState,
    TradingStates,
    evaluate,
)
from kcgateway.risk.key_use import KeyUse
from kucoin_sim.engine.types import Side as SimSide
from kucoin_sim.scenario import ScenarioRun

D = Decimal
DAY_MS = 86_400_000
#: the engine moves the baseline 5% of the gap per 60 s refresh (docs/risk_engine.md)
BASELINE_STEP = D("0.05")
BASELINE_EVERY_MS = 60_000
KEEP_MS = 600_000  # the account's recent orders kept (longer than every window)


@dataclass
class _Account:
    tenant: str
    key: str
    ip: str
    submissions: deque[int] = field(default_factory=deque)
    recent: deque[RecentOrder] = field(default_factory=deque)
    #: the key's use: every order and every order lookup of the bot (kcgateway.risk.key_use)
    use: KeyUse = field(default_factory=KeyUse)
    traded: bool = False
    day: int = -1
    day_orders: int = 0
    day_turnover: Decimal = Decimal(0)
    day_start: Decimal | None = None
    peak: Decimal | None = None


@dataclass
class FlowReplay:
    """The pure check over every order a scenario places; see the module docstring."""

    run: ScenarioRun
    limits: Limits
    #: uid -> tenant (accounts of one tenant share it); default: every account its own tenant
    tenant_of: Callable[[str], str] = lambda uid: f"tenant-{uid}"
    #: the currencies the accounts may hold
    currencies: tuple[str, ...] = ("USDT", "BTC", "ETH", "SOL")
    orders: int = 0
    allowed: int = 0
    denials: Counter[str] = field(default_factory=Counter)
    denial_examples: list[str] = field(default_factory=list)
    signals: list[Signal] = field(default_factory=list)
    states: dict[str, TradingState] = field(default_factory=dict)
    blocked: set[str] = field(default_factory=set)
    _accounts: dict[str, _Account] = field(default_factory=dict)
    _buys: dict[str, deque[RecentOrder]] = field(default_factory=dict)
    _baseline: dict[str, tuple[Decimal, int]] = field(default_factory=dict)
    _volume_cache: tuple[int, dict[str, Decimal]] | None = None

    def install(self) -> None:
        """Check every order the run's desk places from now on."""
        place = self.run.desk.place

        def checked(uid: str, symbol: str, side: SimSide, now_ms: int, **kw: Any) -> Any:
            self.check(uid, symbol, side, now_ms, kw)
            return place(uid, symbol, side, now_ms, **kw)

        self.run.desk.place = checked  # type: ignore[method-assign]
        lookup = self.run.desk.order

        def used(uid: str, order_id: str, now_ms: int) -> Any:
            self._key_account(uid).use.used(now_ms)  # the bot's request, with its key
            return lookup(uid, order_id, now_ms)

        self.run.desk.order = used  # type: ignore[method-assign]

    # -- the views ------------------------------------------------------------------------

    @property
    def _ex(self) -> Any:
        return self.run.state.exchange

    def _mid(self, symbol: str) -> Decimal | None:
        mid: Decimal | None = self.run.desk.mid(symbol)
        return mid

    def _volumes(self, now: int) -> dict[str, Decimal]:
        """24 h quote volume per symbol: the makers' stand-in volume at the mid (per minute)."""
        if self._volume_cache is not None and now - self._volume_cache[0] < BASELINE_EVERY_MS:
            return self._volume_cache[1]
        out: dict[str, Decimal] = {}
        for maker in self._ex.makers.values():
            if maker.cfg.symbol not in self._ex.symbols:
                continue  # a futures contract
            mid = self._mid(maker.cfg.symbol) or maker.cfg.mid
            out[maker.cfg.symbol] = maker.cfg.volume_24h * mid
        self._volume_cache = (now, out)
        return out

    def _market(self, symbol: str, now: int) -> MarketView:
        spec = self._ex.symbols[symbol]
        market = self._ex.market(symbol)
        rules = SymbolRules(
            symbol=symbol,
            base=spec.base,
            quote=spec.quote,
            tradable=True,
            price_increment=spec.price_increment,
            size_increment=spec.base_increment,
            price_limit_rate=spec.price_limit_rate,
        )
        bids = tuple((p, q) for p, q in market.book.depth(SimSide.BUY, 20))
        asks = tuple((p, q) for p, q in market.book.depth(SimSide.SELL, 20))
        tick = self._ex.ticker(symbol)
        last = tick.price or self._mid(symbol)
        volumes = self._volumes(now)
        rank = 1 + sum(1 for v in volumes.values() if v > volumes.get(symbol, D(0)))
        return MarketView(
            symbol=symbol,
            rules=Stamped(rules, now),
            best_bid=Stamped(bids[0][0], now) if bids else None,
            best_ask=Stamped(asks[0][0], now) if asks else None,
            last_price=Stamped(last, now) if last is not None else None,
            book=Stamped(Book(bids, asks), now),
            volume_24h=Stamped(volumes.get(symbol, D(0)), now),
            volume_rank=Stamped(rank, now),
            baseline_price=self._baseline_of(symbol, now),
        )

    def _baseline_of(self, symbol: str, now: int) -> Stamped[Decimal] | None:
        mid = self._mid(symbol)
        held = self._baseline.get(symbol)
        if held is None:
            if mid is None:
                return None
            self._baseline[symbol] = (mid, now)
            return Stamped(mid, now)
        value, at = held
        if mid is not None:
            for _ in range(min((now - at) // BASELINE_EVERY_MS, 200)):
                value += (mid - value) * BASELINE_STEP
            if now - at >= BASELINE_EVERY_MS:
                self._baseline[symbol] = (value, now)
        return Stamped(value, now)

    def _price_of(self, currency: str) -> Decimal | None:
        if currency == "USDT":
            return D(1)
        symbol = f"{currency}-USDT"
        return self._mid(symbol) if symbol in self._ex.symbols else None

    def _account(self, uid: str, acct: _Account, now: int) -> AccountView:
        # the trading account (where scenario accounts hold and trade everything), one dict
        # look-up per currency (Exchange.balances scans every account of every user)
        kind = self.run.desk.account_type(uid)
        balances = {c: self._ex.ledger.account(uid, kind, c).balance for c in self.currencies}
        balances = {c: v for c, v in balances.items() if v}
        positions: dict[str, Position] = {}
        equity = D(0)
        for currency, qty in balances.items():
            price = self._price_of(currency)
            if price is None:
                continue
            equity += qty * price
            if currency != "USDT" and qty > 0:
                positions[currency] = Position(qty, qty * price)
        opens: list[OpenOrder] = []
        for o in self._ex.orders(uid, status="active"):
            if o.price is None or not o.remaining:
                continue
            spec = self._ex.symbols[o.symbol]
            side = Side.BUY if o.side is SimSide.BUY else Side.SELL
            opens.append(OpenOrder(spec.base, o.symbol, side, o.remaining, o.remaining * o.price))
        day = now // DAY_MS
        if acct.day != day:
            acct.day, acct.day_orders, acct.day_turnover, acct.day_start = day, 0, D(0), equity
        acct.peak = equity if acct.peak is None else max(acct.peak, equity)
        return AccountView(
            account_id=uid,
            balances=Stamped(balances, now),
            positions=Stamped(positions, now),
            open_orders=Stamped(tuple(opens), now),
            equity=Stamped(equity, now),
            peak_equity=Stamped(acct.peak, now),
            day_start_equity=Stamped(acct.day_start or equity, now),
        )

    def _activity(self, acct: _Account, symbol: str, now: int) -> RecentActivity:
        while acct.submissions and acct.submissions[0] <= now - 60_000:
            acct.submissions.popleft()
        while acct.recent and acct.recent[0].at_ms <= now - KEEP_MS:
            acct.recent.popleft()
        buys = self._buys.setdefault(symbol, deque())
        while buys and buys[0].at_ms <= now - self.limits.burst_window_ms:
            buys.popleft()
        idle_from, idle_to = acct.use.view(now)
        return RecentActivity(
            as_of_ms=now,
            key_submissions_ms=tuple(acct.submissions),
            account_submissions_ms=tuple(acct.submissions),
            daily_order_count=acct.day_orders,
            daily_turnover=acct.day_turnover,
            recent_orders=tuple(acct.recent),
            key_last_used_ms=idle_from,
            key_idle_until_ms=idle_to,
            key_known_ips=frozenset({acct.ip}) if acct.traded else frozenset(),
            source_ip=acct.ip,
            symbol_buys=tuple(buys),
        )

    # -- one order ------------------------------------------------------------------------

    def _key_account(self, uid: str) -> _Account:
        acct = self._accounts.get(uid)
        if acct is None:
            n = len(self._accounts)
            acct = _Account(self.tenant_of(uid), f"key-{uid}", f"10.{n // 250}.{n % 250}.1")
            self._accounts[uid] = acct
        return acct

    def check(self, uid: str, symbol: str, side: SimSide, now: int, kw: dict[str, Any]) -> Decision:
        acct = self._key_account(uid)
        acct.use.used(now)  # the order's own request
        price, size, funds = kw.get("price"), kw.get("size"), kw.get("funds")
        order = ProposedOrder(
            tenant_id=acct.tenant,
            account_id=uid,
            key_id=acct.key,
            market=MarketKind.SPOT,
            symbol=symbol,
            side=Side.BUY if side is SimSide.BUY else Side.SELL,
            order_type=OrderType.LIMIT if price is not None else OrderType.MARKET,
            price=price,
            size=size,
            funds=funds,
        )
        market = self._market(symbol, now)
        account = self._account(uid, acct, now)
        activity = self._activity(acct, symbol, now)
        limits = self.limits
        if self.blocked:
            limits = replace(limits, symbol_deny=limits.symbol_deny | frozenset(self.blocked))
        states = TradingStates(account=self.states.get(uid, TradingState.ACTIVE))
        decision = evaluate(
            order,
            market=market,
            account=account,
            activity=activity,
            limits=limits,
            states=states,
            now_ms=now,
        )
        self.orders += 1
        for change in decision.state_changes:
            self.states[change.target] = change.state
        for signal in decision.signals:
            self.signals.append(signal)
            for action in signal.actions:
                if action.kind is ActionKind.BLOCK_SYMBOL:
                    self.blocked.add(action.target)
                elif action.kind is ActionKind.HALT_ACCOUNT:
                    self.states[action.target] = TradingState.HALTED
        if decision.allowed:
            self.allowed += 1
            sent = decision.order or order
            notional = decision.notional or D(0)
            record = RecentOrder(
                acct.tenant,
                uid,
                acct.key,
                symbol,
                sent.side,
                sent.order_type,
                sent.price,
                sent.size,
                sent.funds,
                notional,
                now,
            )
            acct.submissions.append(now)
            acct.recent.append(record)
            acct.use.traded(now)
            acct.traded = True
            acct.day_orders += 1
            acct.day_turnover += notional
            if sent.side is Side.BUY:
                self._buys.setdefault(symbol, deque()).append(record)
        else:
            for failure in decision.failures:
                self.denials[failure.code] += 1
                if len(self.denial_examples) < 10:
                    self.denial_examples.append(f"{symbol} {side}: {failure.message}")
        return decision

    def summary(self) -> str:
        halted = sorted(a for a, s in self.states.items() if s is not TradingState.ACTIVE)
        return (
            f"{self.orders} orders checked, {self.allowed} allowed, denials {dict(self.denials)}"
            f" (e.g. {self.denial_examples[:3]}), {len(self.signals)} signals "
            f"{Counter(s.code for s in self.signals)}, not ACTIVE: {halted[:5]}"
            f"{'...' if len(halted) > 5 else ''}, blocked {sorted(self.blocked)}"
        )
