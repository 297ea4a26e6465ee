"""A known-good scenario that every check approves, and helpers to bend one figure at a time."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from kcgateway.risk import (
    AccountView,
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
    Side,
    Stamped,
    SymbolRules,
    TradingStates,
    evaluate,
)

D = Decimal
NOW = 1_700_000_000_000


def st(value: Any, age_ms: int = 100) -> Stamped[Any]:
    return Stamped(value, NOW - age_ms)


RULES = SymbolRules(
    symbol="BTC-USDT",
    base="BTC",
    quote="USDT",
    tradable=True,
    price_increment=D("0.1"),
    size_increment=D("0.00001"),
    price_limit_rate=D("0.1"),
)
FUT_RULES = SymbolRules(
    symbol="XBTUSDTM",
    base="XBT",
    quote="USDT",
    tradable=True,
    price_increment=D("0.1"),
    size_increment=D(1),
    multiplier=D("0.001"),
)
BOOK = Book(
    bids=((D(66940), D(1)), (D(66900), D(2)), (D(66000), D(5))),
    asks=((D(66960), D(1)), (D(67000), D(2)), (D(70000), D(5))),
)


def market(**kw: Any) -> MarketView:
    base = MarketView(
        symbol="BTC-USDT",
        rules=st(RULES),
        best_bid=st(D(66940)),
        best_ask=st(D(66960)),
        last_price=st(D(66950)),
        book=st(BOOK),
        volume_24h=st(D(500_000_000)),
        volume_rank=st(1),
        baseline_price=st(D(66900)),
    )
    return replace(base, **kw)


def futures_market(**kw: Any) -> MarketView:
    return market(**{"symbol": "XBTUSDTM", "rules": st(FUT_RULES), **kw})


def account(**kw: Any) -> AccountView:
    base = AccountView(
        account_id="acc1",
        balances=st({"USDT": D(50_000), "BTC": D("0.5")}),
        positions=st({"BTC": Position(D("0.5"), D(33_475))}),
        open_orders=st(()),
        equity=st(D(83_475)),
        peak_equity=st(D(85_000)),
        day_start_equity=st(D(84_000)),
    )
    return replace(base, **kw)


def activity(**kw: Any) -> RecentActivity:
    base = RecentActivity(
        as_of_ms=NOW - 10,
        key_submissions_ms=(NOW - 30_000,),
        account_submissions_ms=(NOW - 30_000,),
        daily_order_count=5,
        daily_turnover=D(10_000),
        key_last_used_ms=NOW - 30_000,
        key_known_ips=frozenset({"10.0.0.1"}),
        source_ip="10.0.0.1",
    )
    return replace(base, **kw)


def order(**kw: Any) -> ProposedOrder:
    base = ProposedOrder(
        tenant_id="t1",
        account_id="acc1",
        key_id="k1",
        market=MarketKind.SPOT,
        symbol="BTC-USDT",
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        price=D(66950),
        size=D("0.1"),
    )
    return replace(base, **kw)


def open_order(**kw: Any) -> OpenOrder:
    base = OpenOrder("BTC", "BTC-USDT", Side.BUY, D("0.1"), D(6_695))
    return replace(base, **kw)


def check(
    o: ProposedOrder | None = None,
    *,
    m: MarketView | None = None,
    a: AccountView | None = None,
    act: RecentActivity | str | None = "default",
    limits: Limits | None = None,
    states: TradingStates | None = None,
    now: int = NOW,
) -> Decision:
    return evaluate(
        o if o is not None else order(),
        market=m if m is not None else market(),
        account=a if a is not None else account(),
        activity=activity() if act == "default" else act,  # type: ignore[arg-type]
        limits=limits or Limits(),
        states=states or TradingStates(),
        now_ms=now,
    )
