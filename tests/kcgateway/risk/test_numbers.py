"""Plain numbers in sentences and the pricing helpers."""

from __future__ import annotations

from decimal import Decimal

from kcgateway.risk import Book, Side, SymbolRules
from kcgateway.risk.numbers import ceil_to, display_price, floor_to, percent, plain, seconds
from kcgateway.risk.pricing import reference, value, walk

D = Decimal


def test_plain_has_no_exponent_and_no_trailing_zeros() -> None:
    assert plain(D("75000.00")) == "75,000"
    assert plain(D("1E+6")) == "1,000,000"
    assert plain(D("0.00000001")) == "0.00000001"
    assert plain(D("66950.50")) == "66,950.5"
    assert plain(5) == "5"


def test_percent_seconds_rounding() -> None:
    assert percent(D("12.04")) == "12.0%"
    assert seconds(7_250) == "7.2 s"
    assert floor_to(D("1.239"), D("0.01")) == D("1.23")
    assert ceil_to(D("1.231"), D("0.01")) == D("1.24")


def test_display_price_uses_the_tick_and_survives_huge_values() -> None:
    assert display_price(D("66950.123"), D("0.1")) == "66,950.1"
    huge = D("1E+40")
    assert display_price(huge, D("0.1")) == plain(huge)


def test_reference() -> None:
    bid, ask = D(100), D(102)
    assert reference(Side.BUY, D(101), bid, ask) == D(101)  # resting buy: mid
    assert reference(Side.BUY, D(102), bid, ask) == ask  # crossing buy: far side
    assert reference(Side.BUY, None, bid, ask) == ask  # market buy
    assert reference(Side.SELL, D(101), bid, ask) == D(101)
    assert reference(Side.SELL, D(100), bid, ask) == bid
    assert reference(Side.SELL, None, bid, ask) == bid


def test_walk() -> None:
    levels = Book(bids=(), asks=((D(10), D(1)), (D(11), D(2)))).asks
    assert walk((), quantity=D(1), funds=None) is None
    fill = walk(levels, quantity=D(2), funds=None)
    assert fill is not None and fill.complete
    assert (fill.quantity, fill.cost, fill.worst, fill.average) == (D(2), D(21), D(11), D("10.5"))
    short = walk(levels, quantity=D(5), funds=None)
    assert short is not None and not short.complete and short.quantity == D(3)
    by_funds = walk(levels, quantity=None, funds=D(21))
    assert by_funds is not None and by_funds.complete and by_funds.quantity == D(2)
    over = walk(levels, quantity=None, funds=D(100))
    assert over is not None and not over.complete and over.cost == D(32)


def test_value() -> None:
    spot = SymbolRules("S", "B", "Q", True, D(1), D(1))
    linear = SymbolRules("F", "B", "Q", True, D(1), D(1), multiplier=D("0.01"))
    inverse = SymbolRules("I", "B", "Q", True, D(1), D(1), multiplier=D(-1), inverse=True)
    assert value(spot, D(2), D(100)) == D(200)
    assert value(linear, D(2), D(100)) == D(2)
    assert value(inverse, D(2), D(100)) == D(2)
