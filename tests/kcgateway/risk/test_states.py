"""Trading states: HALTED lets only cancels through, REDUCING only orders that reduce exposure."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st_

from kcgateway.risk import (
    Book,
    CancelRequest,
    Level,
    Limits,
    MarketKind,
    OpenOrder,
    OrderType,
    Position,
    Side,
    Stamped,
    TradingState,
    TradingStates,
    evaluate,
)
from tests.kcgateway.risk.builders import (
    NOW,
    account,
    activity,
    check,
    futures_market,
    market,
    order,
    st,
)

D = Decimal
H, R, A = TradingState.HALTED, TradingState.REDUCING, TradingState.ACTIVE
DEEP = Book(
    bids=((D(66940), D(10_000)), (D(66900), D(10_000))),
    asks=((D(66960), D(10_000)), (D(67000), D(10_000))),
)


def fut_order(**kw: Any) -> Any:
    base: dict[str, Any] = {
        "market": MarketKind.FUTURES,
        "symbol": "XBTUSDTM",
        "price": D(66950),
        "size": D(3),
    }
    base.update(kw)
    return order(**base)


def fut_account(qty: Decimal, open_orders: tuple[OpenOrder, ...] = ()) -> Any:
    pos = Position(qty, abs(qty) * D("66.95"), MarketKind.FUTURES)
    return account(positions=st({"XBTUSDTM": pos}), open_orders=st(open_orders))


def test_cancel_always_passes_even_halted_without_any_data() -> None:
    cancel = CancelRequest("t1", "acc1", "k1", "BTC-USDT", "o1")
    m = replace(market(), rules=None, best_bid=None, best_ask=None, book=None)
    decision = evaluate(
        cancel,
        market=m,
        account=account(positions=None),
        activity=None,
        limits=Limits(),
        states=TradingStates(H, H, H, H),
        now_ms=NOW,
    )
    assert decision.allowed
    assert decision.failures == ()


@pytest.mark.parametrize(
    ("states", "who"),
    [
        (TradingStates(gateway=H), "the gateway is halted"),
        (TradingStates(tenant=H), "tenant t1 is halted"),
        (TradingStates(account=H), "account acc1 is halted"),
        (TradingStates(key=H), "key k1 is halted"),
    ],
)
def test_halted_at_any_level_denies(states: TradingStates, who: str) -> None:
    decision = check(order(side=Side.SELL), states=states)
    assert decision.codes == ("risk.halted",)
    assert f"{who}; only cancels pass" in decision.explain()


def test_strictest_state_and_widest_level_win() -> None:
    assert TradingStates().strictest() == (A, Level.GATEWAY)
    assert TradingStates(tenant=R, key=H).strictest() == (H, Level.KEY)
    assert TradingStates(gateway=R, account=R).strictest() == (R, Level.GATEWAY)
    assert TradingStates(account=H, key=H).strictest() == (H, Level.ACCOUNT)


def test_reducing_spot_buy_denied_sell_allowed() -> None:
    states = TradingStates(tenant=R)
    buy = check(order(), states=states)
    assert buy.codes == ("risk.reducing_only",)
    assert "tenant t1 may only reduce exposure" in buy.explain()
    assert check(order(side=Side.SELL), states=states).allowed


@pytest.mark.parametrize(
    ("qty", "side", "size", "reduce_only", "open_", "allowed"),
    [
        (D(5), Side.SELL, D(3), False, (), True),  # closes part of a long
        (D(5), Side.SELL, D(5), False, (), True),  # closes it all
        (D(5), Side.SELL, D(6), False, (), False),  # would flip to short
        (D(5), Side.BUY, D(1), False, (), False),  # adds to the long
        (D(0), Side.SELL, D(1), False, (), False),  # opens a short
        (D(-4), Side.BUY, D(4), False, (), True),  # covers a short
        (D(5), Side.SELL, D(3), False, ((Side.SELL, D(3)),), False),  # with a pending close
        (D(5), Side.SELL, D(2), False, ((Side.SELL, D(3)),), True),
        (D(5), Side.SELL, D(2), False, ((Side.BUY, D(3)),), True),  # other side does not count
        (D(0), Side.BUY, D(9), True, (), True),  # reduce-only: the exchange enforces it
    ],
)
def test_reducing_futures(
    qty: Decimal,
    side: Side,
    size: Decimal,
    reduce_only: bool,
    open_: tuple[tuple[Side, Decimal], ...],
    allowed: bool,
) -> None:
    opens = tuple(OpenOrder("XBTUSDTM", "XBTUSDTM", s, q, q * D("66.95")) for s, q in open_)
    decision = check(
        fut_order(side=side, size=size, reduce_only=reduce_only),
        m=futures_market(),
        a=fut_account(qty, opens),
        states=TradingStates(key=R),
    )
    assert decision.allowed is allowed, decision.explain()
    if not allowed:
        assert decision.codes == ("risk.reducing_only",)


def test_reducing_margin_by_funds_counts_as_increasing() -> None:
    short = account(positions=st({"BTC": Position(D(-1), D(66950), MarketKind.MARGIN)}))
    o = order(market=MarketKind.MARGIN, order_type=OrderType.MARKET, price=None, size=None,
              funds=D(1000))  # fmt: skip
    decision = check(o, a=short, states=TradingStates(account=R))
    assert decision.codes == ("risk.reducing_only",)
    by_size = order(market=MarketKind.MARGIN, order_type=OrderType.MARKET, price=None,
                    size=D("0.5"))  # fmt: skip
    assert check(by_size, a=short, states=TradingStates(account=R)).allowed


def test_reducing_without_positions_is_denied_as_unknown() -> None:
    decision = check(order(side=Side.SELL), a=account(positions=None), states=TradingStates(key=R))
    assert "risk.reducing_only" in decision.codes
    assert "cannot be told without fresh positions" in decision.explain()


# -- properties --------------------------------------------------------------------------

state_values = st_.sampled_from(TradingState)
halted_states = st_.builds(
    lambda g, t, a, k, where: TradingStates(
        **{**{"gateway": g, "tenant": t, "account": a, "key": k}, where: H}
    ),
    state_values, state_values, state_values, state_values,
    st_.sampled_from(["gateway", "tenant", "account", "key"]),
)  # fmt: skip
sizes = st_.integers(1, 20).map(D)
fut_orders = st_.builds(
    lambda side, size, otype, ro: fut_order(
        side=side,
        size=size,
        reduce_only=ro,
        order_type=otype,
        price=D(66950) if otype is OrderType.LIMIT else None,
    ),
    st_.sampled_from(Side), sizes, st_.sampled_from(OrderType), st_.booleans(),
)  # fmt: skip
spot_orders = st_.builds(
    lambda side, size, otype, mk: order(
        market=mk,
        side=side,
        size=D(size) / 100,
        order_type=otype,
        price=D(66950) if otype is OrderType.LIMIT else None,
    ),
    st_.sampled_from(Side), st_.integers(1, 100), st_.sampled_from(OrderType),
    st_.sampled_from([MarketKind.SPOT, MarketKind.MARGIN]),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    states=halted_states,
    o=st_.one_of(fut_orders, spot_orders),
    qty=st_.integers(-20, 20),
    drop=st_.booleans(),
)
def test_property_nothing_passes_a_halted_level(
    states: TradingStates, o: Any, qty: int, drop: bool
) -> None:
    fut = o.market is MarketKind.FUTURES
    m = futures_market(book=st(DEEP)) if fut else market(book=st(DEEP))
    key = "XBTUSDTM" if fut else "BTC"
    a = account(positions=st({key: Position(D(qty), abs(D(qty)) * 100, o.market)}))
    act = None if drop else activity()
    limits = Limits(check_detector=not drop, check_rates=not drop, check_duplicates=not drop,
                    market_to_ioc=drop, price_collar_pct=Decimal("0.01"))  # fmt: skip
    decision = evaluate(o, market=m, account=a, activity=act, limits=limits, states=states,
                        now_ms=NOW)  # fmt: skip
    assert not decision.allowed
    assert "risk.halted" in decision.codes


@settings(max_examples=200, deadline=None)
@given(
    level=st_.sampled_from(["gateway", "tenant", "account", "key"]),
    start=st_.integers(-20, 20),
    stream=st_.lists(fut_orders, min_size=1, max_size=12),
    ioc=st_.booleans(),
)
def test_property_no_sequence_increases_futures_exposure_under_reducing(
    level: str, start: int, stream: list[Any], ioc: bool
) -> None:
    """Accepted orders rest as open orders; filling all of them never grows |position|."""
    states = TradingStates(**{level: R})
    m = futures_market(book=st(DEEP))
    pos = D(start)
    opens: list[OpenOrder] = []
    for o in stream:
        a = fut_account(pos, tuple(opens))
        limits = Limits(market_to_ioc=ioc, price_collar_pct=D("0.01") if ioc else D(5))
        decision = evaluate(o, market=m, account=a, activity=activity(), limits=limits,
                            states=states, now_ms=NOW)  # fmt: skip
        if decision.allowed:
            assert o.size is not None
            opens.append(
                OpenOrder("XBTUSDTM", "XBTUSDTM", o.side, o.size, o.size * D("66.95"),
                          o.reduce_only)
            )  # fmt: skip
    final = pos
    for oo in opens:  # fill in any order: the exchange caps reduce-only fills at the position
        delta = oo.quantity if oo.side is Side.BUY else -oo.quantity
        if oo.reduce_only:
            if final == 0 or (final > 0) == (delta > 0):
                continue
            delta = max(min(delta, abs(final)), -abs(final))
        final += delta
        assert abs(final) <= abs(pos)
        assert final == 0 or (final > 0) == (pos > 0)


@settings(max_examples=200, deadline=None)
@given(level=st_.sampled_from(["gateway", "tenant", "account", "key"]), o=spot_orders,
       held=st_.integers(-100, 100))  # fmt: skip
def test_property_reducing_spot_and_margin_accept_only_reductions(
    level: str, o: Any, held: int
) -> None:
    qty = D(held) / 100
    a = account(positions=st({"BTC": Position(qty, abs(qty) * 66950, o.market)}))
    decision = evaluate(o, market=market(book=st(DEEP)), account=a, activity=activity(),
                        limits=Limits(check_detector=False), states=TradingStates(**{level: R}),
                        now_ms=NOW)  # fmt: skip
    if not decision.allowed:
        return
    if o.market is MarketKind.SPOT:
        assert o.side is Side.SELL
    else:
        assert qty != 0 and (qty > 0) == (o.side is Side.SELL)
        assert o.size <= abs(qty)


def test_stamped_is_plain_data() -> None:
    assert Stamped(D(1), 5) == Stamped(D(1), 5)
