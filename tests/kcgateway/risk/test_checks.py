"""Checks 1 to 5, one behaviour per test, with the sentences people read."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from kcgateway.risk import (
    Book,
    Limits,
    MarketKind,
    OrderType,
    Position,
    ProposedOrder,
    Side,
    SymbolRules,
)
from tests.kcgateway.risk.builders import (
    FUT_RULES,
    RULES,
    account,
    check,
    futures_market,
    market,
    open_order,
    order,
    st,
)

D = Decimal


def mkt(**kw: Any) -> ProposedOrder:
    return order(order_type=OrderType.MARKET, price=None, **kw)


# 1. symbol allowed


def test_symbol_on_deny_list() -> None:
    d = check(limits=Limits(symbol_deny=frozenset({"BTC-USDT"})))
    assert d.explain() == "risk.symbol_denied: BTC-USDT is on the deny-list"


def test_symbol_not_on_allow_list() -> None:
    d = check(limits=Limits(symbol_allow=frozenset({"ETH-USDT"})))
    assert d.explain() == "risk.symbol_denied: BTC-USDT is not on the allow-list of this account"
    assert check(limits=Limits(symbol_allow=frozenset({"BTC-USDT"}))).allowed


def test_symbol_not_tradable() -> None:
    d = check(m=market(rules=st(replace(RULES, tradable=False))))
    assert d.codes == ("risk.symbol_not_tradable",)
    assert "the exchange does not trade BTC-USDT at the moment" in d.explain()


def test_symbol_check_off() -> None:
    limits = Limits(check_symbol=False, symbol_deny=frozenset({"BTC-USDT"}))
    assert check(m=market(rules=st(replace(RULES, tradable=False))), limits=limits).allowed


# 2. price collar


def test_collar_example_sentence() -> None:
    m = market(best_bid=st(D(66940)), best_ask=st(D(66950)))
    d = check(order(price=D(75000)), m=m)
    assert d.explain() == (
        "risk.price_collar: buy at 75,000 is 12.0% above the reference 66,950; the limit is 5%"
    )


def test_collar_passive_limit_uses_mid() -> None:
    wide = market(best_bid=st(D(60000)), best_ask=st(D(70000)))
    d = check(order(price=D(69000)), m=wide)  # below the ask: resting, reference is the mid
    assert "6.2% above the reference 65,000" in d.explain()


def test_collar_sell_below_reference() -> None:
    d = check(order(side=Side.SELL, price=D(60000)))
    assert d.explain() == (
        "risk.price_collar: sell at 60,000 is 10.4% below the reference 66,940; the limit is 5%"
    )


def test_collar_harmless_side_passes() -> None:
    assert check(order(price=D(50000))).allowed  # a buy far below the market cannot hurt
    assert check(order(side=Side.SELL, price=D(69000))).allowed


def test_collar_never_wider_than_price_limit_rate() -> None:
    tight = market(rules=st(replace(RULES, price_limit_rate=D("0.02"))))
    d = check(order(price=D(68500)), m=tight)
    assert "the limit is 2%" in d.explain()
    zero_rate = market(rules=st(replace(RULES, price_limit_rate=D(0))))
    assert check(order(price=D(68500)), m=zero_rate).allowed  # 0 means "not set"


def test_collar_market_walks_the_book() -> None:
    big = {"max_order_notional": D(10**6), "max_symbol_position": D(10**6)}
    d = check(mkt(size=D(5)), limits=Limits(price_collar_pct=D(3), **big))
    assert d.codes == ("risk.price_collar",)
    assert d.explain() == (
        "risk.price_collar: market buy would fill up to 70,000 (average 68,192), 4.5% above "
        "the reference 66,960; the limit is 3%"
    )


def test_collar_market_sell_walks_bids() -> None:
    d = check(mkt(side=Side.SELL, size=D("0.4")))
    assert d.allowed
    d = check(mkt(side=Side.SELL, size=D(4)), limits=Limits(price_collar_pct=D(1)))
    assert "market sell would fill up to 66,000" in d.explain()


def test_market_order_deeper_than_the_book() -> None:
    d = check(mkt(size=D(100)))
    assert "risk.book_depth" in d.codes
    assert "the asks of BTC-USDT hold 8 of the 100 to trade" in d.explain()
    d = check(mkt(size=None, funds=D(10_000_000)))
    assert "the asks of BTC-USDT hold 550,960 of the 10,000,000 to spend" in d.explain()


def test_market_to_ioc_converts_at_the_collar() -> None:
    limits = Limits(price_collar_pct=D(3), market_to_ioc=True, max_order_notional=D(10**6),
                    max_symbol_position=D(10**6))  # fmt: skip
    d = check(mkt(size=D(5)), limits=limits)
    assert d.allowed, d.explain()
    assert d.amended
    assert d.order is not None
    assert d.order.order_type is OrderType.LIMIT
    assert d.order.time_in_force == "IOC"
    assert d.order.price == D("68968.8")  # 66,960 x 1.03 = 68,968.8
    assert d.order.size == D(5)
    assert d.notes[0] == "market buy turned into an IOC limit at 68,968.8, the collar price"


def test_market_to_ioc_sell_by_funds_rounds_safely() -> None:
    limits = Limits(price_collar_pct=D(1), market_to_ioc=True, max_order_notional=D(10**6),
                    check_detector=False)  # fmt: skip
    # 250,000 to receive walks the bids down to 66,000: 1.4% below the bid 66,940
    d = check(mkt(side=Side.SELL, size=None, funds=D(250_000)), limits=limits)
    assert d.amended and d.allowed and d.order is not None, d.explain()
    assert d.order.price == D("66270.6")  # 66,940 x 0.99 = 66,270.6, rounded up
    assert d.order.size == D("3.77241")  # 250,000 / 66,270.6 = 3.772412..., rounded down
    assert d.order.funds is None


def test_market_to_ioc_also_covers_a_thin_book() -> None:
    limits = Limits(market_to_ioc=True, max_order_notional=D(10**7), check_exposure=False,
                    check_liquidity=False, check_rates=False)  # fmt: skip
    d = check(mkt(size=D(100)), limits=limits)
    assert d.amended and d.allowed, d.explain()


def test_market_to_ioc_that_rounds_to_nothing_is_denied() -> None:
    limits = Limits(market_to_ioc=True, price_collar_pct=D(1))
    d = check(mkt(size=None, funds=D("0.0001")), m=market(), limits=limits)
    # the estimated fill is within the collar: no conversion needed, allowed as is
    assert d.allowed and not d.amended
    thin = market(book=st(Book(bids=((D(66940), D(1)),), asks=())))
    d = check(mkt(size=None, funds=D("0.0001")), m=thin, limits=limits)
    assert d.codes == ("risk.book_depth",)


def test_collar_off() -> None:
    assert check(order(price=D(75000)), limits=Limits(check_price_collar=False)).allowed


# 3. notional per order


def test_limit_notional() -> None:
    d = check(order(size=D(1)), limits=Limits(max_order_notional=D(66_950)))
    assert d.allowed
    d = check(order(size=D(1)), limits=Limits(max_order_notional=D(66_949)))
    assert d.explain() == (
        "risk.max_notional: the notional 66,950 exceeds the per-order maximum 66,949"
    )


def test_market_by_size_is_priced_from_the_book() -> None:
    d = check(mkt(size=D(2)), limits=Limits(max_order_notional=D(133_960)))
    assert d.notional == D(66960) + D(67000)
    assert d.allowed, d.explain()
    d = check(mkt(size=D(2)), limits=Limits(max_order_notional=D(130_000)))
    assert "the estimated notional 133,960 exceeds" in d.explain()


def test_market_by_size_beyond_the_book_is_priced_at_the_worst_level() -> None:
    d = check(mkt(size=D(10)), limits=Limits(market_to_ioc=False))
    # 8 from the book (66,960 + 2 x 67,000 + 5 x 70,000) and 2 more at 70,000
    assert d.notional == D(66960) + D(134000) + D(350000) + D(140000)


def test_market_by_funds_notional_is_the_funds() -> None:
    d = check(mkt(size=None, funds=D(5000)))
    assert d.allowed and d.notional == D(5000)


def test_futures_linear_uses_the_multiplier() -> None:
    o = order(market=MarketKind.FUTURES, symbol="XBTUSDTM", price=D(66950), size=D(2000))
    d = check(o, m=futures_market(), limits=Limits(max_order_notional=D(100_000)))
    assert "the notional 133,900 exceeds" in d.explain()
    m_o = order(market=MarketKind.FUTURES, symbol="XBTUSDTM", order_type=OrderType.MARKET,
                price=None, size=D(2))  # fmt: skip
    assert check(m_o, m=futures_market()).notional == (D(66960) + D(67000)) * D("0.001")


def test_futures_inverse_uses_the_face_value() -> None:
    inverse = futures_market(
        rules=st(replace(FUT_RULES, symbol="XBTUSDM", multiplier=D(-1), inverse=True))
    )
    o = order(market=MarketKind.FUTURES, symbol="XBTUSDTM", price=D(66950), size=D(150_000))
    d = check(o, m=inverse)
    assert "the notional 150,000 exceeds the per-order maximum 100,000" in d.explain()
    m_o = order(market=MarketKind.FUTURES, symbol="XBTUSDTM", order_type=OrderType.MARKET,
                price=None, size=D(3))  # fmt: skip
    assert check(m_o, m=inverse).notional == D(3)


def test_notional_off() -> None:
    assert check(order(size=D(2)), limits=Limits(check_notional=False)).allowed


# 4. position and exposure


def test_max_open_orders() -> None:
    opens = tuple(open_order(quantity=D("0.001"), notional=D(67)) for _ in range(3))
    d = check(a=account(open_orders=st(opens)), limits=Limits(max_open_orders=3))
    assert d.explain() == "risk.max_open_orders: account acc1 has 3 open orders; the limit is 3"
    assert check(a=account(open_orders=st(opens)), limits=Limits(max_open_orders=4)).allowed


def test_max_position_counts_open_orders_on_the_same_side() -> None:
    opens = (open_order(quantity=D(1), notional=D(66950)),
             open_order(side=Side.SELL, quantity=D(1), notional=D(66950)))  # fmt: skip
    limits = Limits(max_symbol_position=D(100_000))
    # 0.5 held + 1 open buy + 0.1 = 1.6 BTC x 66,950 = 107,120
    d = check(a=account(open_orders=st(opens)), limits=limits)
    assert d.explain() == (
        "risk.max_position: the BTC position would reach 107,120 counting open orders; the "
        "limit is 100,000"
    )


def test_symbol_gross_exposure() -> None:
    opens = (open_order(side=Side.SELL, quantity=D(1), notional=D(66950)),)
    d = check(a=account(open_orders=st(opens)), limits=Limits(max_symbol_gross=D(100_000)))
    assert d.codes == ("risk.symbol_exposure",)
    assert d.explain() == (
        "risk.symbol_exposure: the gross BTC exposure would reach 107,120 (position "
        "33,475, open orders 66,950, this order 6,695); the limit is 100,000"
    )


def test_account_gross_exposure() -> None:
    positions = {"BTC": Position(D("0.5"), D(33_475)),
                 "XBTUSDTM": Position(D(-900), D(60_000), MarketKind.FUTURES)}  # fmt: skip
    eth = open_order(exposure_key="ETH", symbol="ETH-USDT", notional=D(1000))
    a = account(positions=st(positions), open_orders=st((eth,)))
    d = check(a=a, limits=Limits(max_account_gross=D(100_000)))
    assert d.explain() == (
        "risk.account_exposure: the gross exposure of account acc1 would reach 101,170; the "
        "limit is 100,000"
    )


def test_exposure_limits_do_not_block_reductions() -> None:
    limits = Limits(max_symbol_position=D(1), max_symbol_gross=D(1), max_account_gross=D(1))
    assert check(order(side=Side.SELL), limits=limits).allowed
    assert not check(order(), limits=limits).allowed


def test_exposure_off() -> None:
    limits = Limits(check_exposure=False, max_symbol_position=D(1), max_open_orders=0)
    assert check(limits=limits).allowed


# 5. liquidity guard


def test_volume_share() -> None:
    m = market(volume_24h=st(D(2_000_000)))
    d = check(order(size=D("0.5")), m=m)
    assert d.explain() == (
        "risk.volume_share: the notional 33,475 is 1.7% of the 24 h volume 2,000,000 of "
        "BTC-USDT; the limit is 1%"
    )


def test_zero_volume() -> None:
    d = check(
        m=market(volume_24h=st(D(0))), limits=Limits(thin_symbol_allow=frozenset({"BTC-USDT"}))
    )
    assert d.codes == ("risk.volume_share",)
    assert "is more than all of the 24 h volume 0" in d.explain()


@pytest.mark.parametrize(("volume", "rank"), [(D(900_000), 5), (D(10**9), 301)])
def test_thin_symbol_needs_allow_listing(volume: Decimal, rank: int) -> None:
    m = market(volume_24h=st(volume), volume_rank=st(rank))
    o = order(size=D("0.001"))
    d = check(o, m=m)
    assert d.codes == ("risk.thin_symbol",)
    assert "BTC-USDT is thinly traded" in d.explain()
    assert "add it to the thin-symbol allow-list" in d.explain()
    assert check(o, m=m, limits=Limits(thin_symbol_allow=frozenset({"BTC-USDT"}))).allowed
    assert check(order(side=Side.SELL, size=D("0.001")), m=m).allowed  # selling stays possible


def test_liquidity_off() -> None:
    m = market(volume_24h=st(D(1)), volume_rank=st(9999))
    assert check(m=m, limits=Limits(check_liquidity=False, check_detector=False)).allowed


def test_every_failure_is_reported() -> None:
    limits = Limits(max_order_notional=D(1), symbol_deny=frozenset({"BTC-USDT"}))
    d = check(order(price=D(75000)), limits=limits)
    assert d.codes == ("risk.symbol_denied", "risk.price_collar", "risk.max_notional")
    assert len(d.explain().splitlines()) == len(d.failures)


def test_rules_unused_fields_are_plain_data() -> None:
    assert SymbolRules("X", "A", "B", True, D(1), D(1)).multiplier == 1
