"""Fail closed: every figure a check reads must be present, sane and fresh.

A figure that is ``None``, older than its bound, dated in the future by more than its bound, or
not a sane number (a price that is not positive, a crossed book) yields one
``risk.stale_data`` failure that names it. The checks that read a bad figure are skipped (they
cannot be evaluated), so the order is denied by the stale-data failure alone.

Which figures are required: the symbol rules, best bid and ask, the book, the positions and the
open orders always (they price the order and tell whether it reduces exposure); the others
whenever a check that reads them is on (all of them with the default limits):

========================  =====================================  ========================
figure                    read by                                default bound
========================  =====================================  ========================
last price                exposure (marks the position)          5 s
24 h volume, rank         liquidity guard, detector              300 s
baseline price            detector (pump)                        300 s
balances, equity, peak,   drawdown                               5 s
start-of-day equity
recent activity           rates, duplicates, detector            5 s
symbol rules              everything                             300 s
========================  =====================================  ========================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from kcgateway.risk.decision import STALE_DATA, Failure
from kcgateway.risk.limits import Limits
from kcgateway.risk.model import (
    AccountView,
    Book,
    MarketView,
    OpenOrder,
    Position,
    RecentActivity,
    Stamped,
    SymbolRules,
)
from kcgateway.risk.numbers import plain, seconds


class Figure(StrEnum):
    """One input figure, named as the sentences name it."""

    RULES = "symbol rules"
    BEST_BID = "best bid"
    BEST_ASK = "best ask"
    LAST_PRICE = "last price"
    BOOK = "order book"
    VOLUME_24H = "24 h volume"
    VOLUME_RANK = "volume rank"
    BASELINE = "baseline price"
    BALANCES = "balances"
    POSITIONS = "positions"
    OPEN_ORDERS = "open orders"
    EQUITY = "equity"
    PEAK_EQUITY = "peak equity"
    DAY_START_EQUITY = "start-of-day equity"
    ACTIVITY = "recent activity"


F = Figure
ALWAYS = frozenset({F.RULES, F.BEST_BID, F.BEST_ASK, F.BOOK, F.POSITIONS, F.OPEN_ORDERS})


def required(limits: Limits) -> frozenset[Figure]:
    """The figures the enabled checks read."""
    need = set(ALWAYS)
    if limits.check_exposure:
        need.add(F.LAST_PRICE)
    if limits.check_liquidity or limits.check_detector:
        need.update((F.VOLUME_24H, F.VOLUME_RANK))
    if limits.check_detector:
        need.update((F.BASELINE, F.ACTIVITY))
    if limits.check_drawdown:
        need.update((F.BALANCES, F.EQUITY, F.PEAK_EQUITY, F.DAY_START_EQUITY))
    if limits.check_rates or limits.check_duplicates:
        need.add(F.ACTIVITY)
    return frozenset(need)


def _positive(value: Any) -> bool:
    return isinstance(value, Decimal) and value.is_finite() and value > 0


def _finite(value: Any) -> bool:
    return isinstance(value, Decimal) and value.is_finite()


def _sane_rank(value: Any) -> bool:
    return isinstance(value, int) and value >= 1


def _problem(stamped: Stamped[Any] | None, bound: int, now_ms: int) -> str:
    """What is wrong with a figure that is missing or outside its bound (``is missing``, ...)."""
    if stamped is None:
        return "is missing"
    age = now_ms - stamped.as_of_ms
    if age > bound:
        return f"is {seconds(age)} old; the bound is {seconds(bound)}"
    return f"is dated {seconds(-age)} in the future; check the clocks"


@dataclass(slots=True)
class Figures:
    """The values of the figures that are present, sane and fresh; ``None`` for every other.

    The checks read figures only from here, so a figure that was not checked (its checks are
    off) or that failed its check can never be used.
    """

    rules: SymbolRules | None = None
    bid: Decimal | None = None
    ask: Decimal | None = None
    last: Decimal | None = None
    book: Book | None = None
    volume: Decimal | None = None
    rank: int | None = None
    baseline: Decimal | None = None
    balances: Mapping[str, Decimal] | None = None
    positions: Mapping[str, Position] | None = None
    open_orders: tuple[OpenOrder, ...] | None = None
    equity: Decimal | None = None
    peak: Decimal | None = None
    day_start: Decimal | None = None
    activity: RecentActivity | None = None


class Freshness:
    """Collects the failures that name the bad figures of one evaluation."""

    __slots__ = ("failures", "limits", "now_ms")

    def __init__(self, limits: Limits, now_ms: int) -> None:
        self.limits = limits
        self.now_ms = now_ms
        self.failures: list[Failure] = []

    def flag(self, message: str) -> None:
        """Record one bad figure with a sentence."""
        self.failures.append(Failure(STALE_DATA, message))

    def take(
        self,
        figure: Figure,
        stamped: Stamped[Any] | None,
        bound: int,
        subject: str,
        sane: Any = None,
    ) -> Any:
        """The figure's value when present, fresh and sane; else flag it and return None.

        ``subject`` completes the sentence: "the best bid of ``BTC-USDT`` is missing".
        """
        now = self.now_ms
        if stamped is not None and -bound <= now - stamped.as_of_ms <= bound:
            value = stamped.value
            if sane is None or sane(value):
                return value
            self.flag(f"the {figure.value} of {subject} is not a sane number ({value!s})")
            return None
        self.flag(f"the {figure.value} of {subject} {_problem(stamped, bound, now)}")
        return None


def check_market(
    fresh: Freshness, market: MarketView, need: frozenset[Figure], out: Figures
) -> None:
    """Put the good market figures among ``need`` into ``out``; flag the others."""
    lim, sym = fresh.limits, market.symbol
    price_age = lim.max_price_age_ms
    take = fresh.take
    out.rules = take(F.RULES, market.rules, lim.max_rules_age_ms, sym)
    bid = take(F.BEST_BID, market.best_bid, price_age, sym, _positive)
    ask = take(F.BEST_ASK, market.best_ask, price_age, sym, _positive)
    if bid is not None and ask is not None and bid >= ask:
        fresh.flag(f"the book of {sym} is crossed (bid {plain(bid)} >= ask {plain(ask)})")
        bid = ask = None
    out.bid, out.ask = bid, ask
    out.book = take(F.BOOK, market.book, price_age, sym)
    if F.LAST_PRICE in need:
        out.last = take(F.LAST_PRICE, market.last_price, price_age, sym, _positive)
    if F.VOLUME_24H in need:
        vol_age = lim.max_volume_age_ms
        out.volume = take(F.VOLUME_24H, market.volume_24h, vol_age, sym, _finite)
        out.rank = take(F.VOLUME_RANK, market.volume_rank, vol_age, sym, _sane_rank)
    if F.BASELINE in need:
        out.baseline = take(
            F.BASELINE, market.baseline_price, lim.max_baseline_age_ms, sym, _positive
        )


def check_account(
    fresh: Freshness,
    account: AccountView,
    activity: RecentActivity | None,
    need: frozenset[Figure],
    out: Figures,
) -> None:
    """Put the good account and activity figures among ``need`` into ``out``; flag the others."""
    age, who = fresh.limits.max_balance_age_ms, f"account {account.account_id}"
    take = fresh.take
    out.positions = take(F.POSITIONS, account.positions, age, who)
    out.open_orders = take(F.OPEN_ORDERS, account.open_orders, age, who)
    if F.EQUITY in need:
        out.balances = take(F.BALANCES, account.balances, age, who)
        out.equity = take(F.EQUITY, account.equity, age, who, _finite)
        out.peak = take(F.PEAK_EQUITY, account.peak_equity, age, who, _positive)
        out.day_start = take(F.DAY_START_EQUITY, account.day_start_equity, age, who, _positive)
    if F.ACTIVITY in need:
        stamped = None if activity is None else Stamped(activity, activity.as_of_ms)
        out.activity = take(F.ACTIVITY, stamped, fresh.limits.max_activity_age_ms, who)
