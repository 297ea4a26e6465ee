"""Fail closed: a missing, stale, future-dated or insane figure denies with risk.stale_data."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st_

from kcgateway.risk import Book, Limits, OrderType, Side, Stamped, TradingStates, evaluate
from kcgateway.risk.freshness import Figure, required
from tests.kcgateway.risk.builders import (
    NOW,
    account,
    activity,
    check,
    market,
    order,
    st,
)

D = Decimal
MARKET_FIGURES = (
    "rules",
    "best_bid",
    "best_ask",
    "last_price",
    "book",
    "volume_24h",
    "volume_rank",
    "baseline_price",
)
ACCOUNT_FIGURES = (
    "balances",
    "positions",
    "open_orders",
    "equity",
    "peak_equity",
    "day_start_equity",
)
ALL = (*MARKET_FIGURES, *ACCOUNT_FIGURES, "activity")
OLD = 10**9  # older than every bound
LABELS = {
    "rules": "symbol rules",
    "best_bid": "best bid",
    "best_ask": "best ask",
    "last_price": "last price",
    "book": "order book",
    "volume_24h": "24 h volume",
    "volume_rank": "volume rank",
    "baseline_price": "baseline price",
    "balances": "balances",
    "positions": "positions",
    "open_orders": "open orders",
    "equity": "equity",
    "peak_equity": "peak equity",
    "day_start_equity": "start-of-day equity",
    "activity": "recent activity",
}


def _stamp(stamped: Stamped[Any], as_of: int) -> Stamped[Any]:
    return Stamped(stamped.value, as_of)


def perturb(name: str, how: str) -> dict[str, Any]:
    """Keyword arguments of builders.check with figure ``name`` removed, aged or future-dated."""
    if name == "activity":
        if how == "missing":
            return {"act": None}
        return {"act": activity(as_of_ms=NOW - OLD if how == "stale" else NOW + OLD)}
    target = market() if name in MARKET_FIGURES else account()
    if how == "missing":
        new: Any = None
    else:
        new = _stamp(getattr(target, name), NOW - OLD if how == "stale" else NOW + OLD)
    changed = replace(target, **{name: new})
    return {"m": changed} if name in MARKET_FIGURES else {"a": changed}


def test_baseline_is_allowed() -> None:
    decision = check()
    assert decision.allowed, decision.explain()
    assert decision.notional == D("6695.0")


@pytest.mark.parametrize("how", ["missing", "stale", "future"])
@pytest.mark.parametrize("name", ALL)
def test_each_bad_figure_denies_and_is_named(name: str, how: str) -> None:
    decision = check(**perturb(name, how))
    assert not decision.allowed
    assert "risk.stale_data" in decision.codes
    text = decision.explain()
    word = {"missing": "is missing", "stale": "old; the bound is", "future": "in the future"}[how]
    assert word in text
    assert f"the {LABELS[name]} of " in text


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("best_bid", D(0)),
        ("best_ask", D("NaN")),
        ("last_price", D(-1)),
        ("baseline_price", D("Infinity")),
        ("volume_24h", D("NaN")),
        ("volume_rank", 0),
    ],
)
def test_insane_market_numbers_deny(name: str, bad: Any) -> None:
    decision = check(m=market(**{name: Stamped(bad, NOW)}))
    assert not decision.allowed
    assert "not a sane number" in decision.explain()


@pytest.mark.parametrize(
    ("name", "bad"), [("equity", D("NaN")), ("peak_equity", D(0)), ("day_start_equity", D(-5))]
)
def test_insane_account_numbers_deny(name: str, bad: Decimal) -> None:
    decision = check(a=account(**{name: Stamped(bad, NOW)}))
    assert decision.codes == ("risk.stale_data",)


def test_crossed_book_denies() -> None:
    decision = check(m=market(best_bid=Stamped(D(67000), NOW)))
    assert decision.codes[0] == "risk.stale_data"
    assert "crossed (bid 67,000 >= ask 66,960)" in decision.explain()


def test_market_data_of_another_symbol_denies() -> None:
    decision = check(m=market(symbol="ETH-USDT", volume_rank=st(9999)))
    assert decision.explain() == (
        "risk.stale_data: the market data given is for ETH-USDT, not BTC-USDT"
    )  # and none of its figures judged the order (its rank would make it a thin symbol)


def test_account_data_of_another_account_denies() -> None:
    decision = check(a=account(account_id="acc2", equity=st(D(1))))
    assert decision.explain() == (
        "risk.stale_data: the account data given is for acc2, not acc1"
    )  # and none of its figures judged the order (its equity would be a drawdown)


def test_within_bound_is_fresh() -> None:
    # exactly at the 5 s bound is still fresh; one millisecond more is stale
    ok = check(m=market(best_bid=Stamped(D(66940), NOW - 5_000)))
    assert ok.allowed
    late = check(m=market(best_bid=Stamped(D(66940), NOW - 5_001)))
    assert "the best bid of BTC-USDT is 5.0 s old; the bound is 5.0 s" in late.explain()


def test_disabled_checks_do_not_require_their_figures() -> None:
    limits = Limits(
        check_exposure=False,
        check_liquidity=False,
        check_detector=False,
        check_drawdown=False,
        check_rates=False,
        check_duplicates=False,
    )
    assert required(limits) == frozenset(
        {Figure.RULES, Figure.BEST_BID, Figure.BEST_ASK, Figure.BOOK, Figure.POSITIONS,
         Figure.OPEN_ORDERS}
    )  # fmt: skip
    m = market(last_price=None, volume_24h=None, volume_rank=None, baseline_price=None)
    a = account(balances=None, equity=None, peak_equity=None, day_start_equity=None)
    assert check(m=m, a=a, act=None, limits=limits).allowed
    # the core figures stay required whatever is switched off
    assert not check(m=market(book=None), limits=limits).allowed


# -- the property: removing or aging any non-empty set of inputs never approves ------------

orders = st_.one_of(
    st_.builds(
        lambda side, off, size: order(
            side=side, price=D(66950) * (1 + D(off) / 1000), size=D(size) / 1000
        ),
        st_.sampled_from(Side),
        st_.integers(-10, 10),
        st_.integers(1, 300),
    ),
    st_.builds(
        lambda side, size: order(order_type=OrderType.MARKET, side=side, price=None,
                                 size=D(size) / 1000),
        st_.sampled_from(Side),
        st_.integers(1, 300),
    ),
    st_.builds(
        lambda side, funds: order(order_type=OrderType.MARKET, side=side, price=None,
                                  size=None, funds=D(funds)),
        st_.sampled_from(Side),
        st_.integers(10, 15_000),
    ),
)  # fmt: skip
damage = st_.dictionaries(
    st_.sampled_from(ALL), st_.sampled_from(["missing", "stale", "future"]), min_size=1
)


@settings(max_examples=400, deadline=None)
@given(o=orders, broken=damage, ioc=st_.booleans())
def test_property_no_approval_with_bad_inputs(o: Any, broken: dict[str, str], ioc: bool) -> None:
    assert check(o).allowed, check(o).explain()  # the undamaged scenario passes
    m, a, act = market(), account(), activity()
    for name, how in broken.items():
        kw = perturb(name, how)
        if name == "activity":
            act = kw["act"]
        elif name in MARKET_FIGURES:
            m = replace(m, **{name: getattr(kw["m"], name)})
        else:
            a = replace(a, **{name: getattr(kw["a"], name)})
    limits = Limits(market_to_ioc=ioc)
    decision = evaluate(
        o, market=m, account=a, activity=act, limits=limits, states=TradingStates(), now_ms=NOW
    )
    assert not decision.allowed
    assert "risk.stale_data" in decision.codes


def test_empty_book_side_denies_market_order() -> None:
    m = market(book=Stamped(Book(bids=(), asks=()), NOW))
    decision = check(order(order_type=OrderType.MARKET, price=None, size=D(1)), m=m)
    assert decision.codes == ("risk.book_depth",)
    assert "the asks of BTC-USDT are empty" in decision.explain()
