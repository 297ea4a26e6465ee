"""Arbitrary requests never raise anything but EngineError, and never break the books."""

from __future__ import annotations

from decimal import Decimal

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings

from kucoin_sim.engine import (
    DEFAULT_CONTRACTS,
    DEFAULT_SYMBOLS,
    AccountType,
    EngineConfig,
    EngineError,
    Exchange,
    MarginMode,
    OrderRequest,
    OrderType,
    Side,
    StopKind,
    Stp,
    TimeInForce,
)
from tests.kucoin_sim.engine.helpers import T0, assert_conserved

sane = st.sampled_from(
    [Decimal(x) for x in ("1", "2", "5", "0.01", "0.1", "0.046", "3000", "65000", "64000")]
)
numbers = st.one_of(
    st.none(),
    sane,
    sane,
    sane,
    st.decimals(allow_nan=True, allow_infinity=True),
    st.decimals(min_value=-10, max_value=100_000, places=4),
    st.sampled_from(
        [
            Decimal("1E+30"),
            Decimal("1E-30"),
            Decimal("-0"),
            Decimal("0.1"),
            Decimal(30000),
            Decimal(1),
        ]
    ),
)
requests = st.builds(
    OrderRequest,
    uid=st.sampled_from(["u1", "u2", "nobody"]),
    symbol=st.sampled_from(["BTC-USDT", "BTC-USDT", "ETH-BTC", "XBTUSDTM", "XBTUSDTM", "NOPE"]),
    side=st.sampled_from(list(Side)),
    type=st.sampled_from(list(OrderType)),
    price=numbers,
    size=numbers,
    funds=numbers,
    client_oid=st.one_of(st.none(), st.sampled_from(["a", "b", ""])),
    tif=st.sampled_from(list(TimeInForce)),
    cancel_after_s=st.one_of(st.none(), st.integers(-5, 10**12)),
    post_only=st.booleans(),
    hidden=st.booleans(),
    iceberg=st.booleans(),
    visible_size=numbers,
    stp=st.one_of(st.none(), st.sampled_from(list(Stp))),
    stop=st.one_of(st.none(), st.sampled_from(list(StopKind))),
    stop_price=numbers,
    account_type=st.sampled_from([*AccountType, AccountType.TRADE, AccountType.TRADE]),
    leverage=numbers,
    margin_mode=st.one_of(st.none(), st.sampled_from(list(MarginMode))),
    reduce_only=st.booleans(),
    close_order=st.booleans(),
    qty=numbers,
    value_qty=numbers,
)


def make() -> Exchange:
    ex = Exchange.from_config(EngineConfig(), seed=5, now_ms=T0)
    for uid in ("u1", "u2"):
        ex.create_user(uid)
        for acct in (AccountType.TRADE, AccountType.TRADE_HF, AccountType.FUTURES):
            for cur in ("USDT", "BTC", "ETH"):
                ex.fund(uid, acct, cur, Decimal(100_000), T0)
    return ex


EX = make()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reqs=st.lists(requests, min_size=1, max_size=6))
def test_any_request_is_accepted_or_refused_with_a_code(reqs: list[OrderRequest]) -> None:
    for i, req in enumerate(reqs):
        try:
            EX.place(req, T0 + i)
        except EngineError as exc:
            assert exc.code.isdigit() and exc.message
    for acct in EX.ledger.all_accounts():
        assert acct.holds >= 0
    assert_conserved(EX)
    for spec in (*DEFAULT_SYMBOLS, *DEFAULT_CONTRACTS):
        book = EX.markets[spec.symbol].book
        bid, ask = book.bids.best(), book.asks.best()
        assert bid is None or ask is None or bid.price < ask.price


@given(amount=numbers.filter(lambda x: x is not None), size=numbers.filter(lambda x: x is not None))
@settings(max_examples=100, deadline=None)
def test_admin_entry_points_refuse_bad_numbers(amount: Decimal, size: Decimal) -> None:
    calls = [
        lambda: EX.fund("u1", AccountType.MAIN, "USDT", amount, T0),
        lambda: EX.transfer(
            "u1", "USDT", source=AccountType.MAIN, target=AccountType.TRADE, amount=amount
        ),
        lambda: EX.set_price("ETH-BTC", amount, T0),
        lambda: EX.set_cross_leverage("u1", "XBTUSDTM", amount),
    ]
    active = EX.orders("u1", status="active")
    if active:
        calls.append(lambda: EX.cancel_partial("u1", active[0].id, size, T0))
    for call in calls:
        try:
            call()
        except EngineError as exc:
            assert exc.code.isdigit()
