"""evaluate(): malformed orders, the shape of a Decision, purity of the package."""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path

import pytest

import kcgateway.risk
from kcgateway.risk import Decision, Failure, MarketKind, OrderType, Side
from tests.kcgateway.risk.builders import check, futures_market, order

D = Decimal


@pytest.mark.parametrize(
    ("kw", "sentence"),
    [
        ({"price": D(0)}, "price must be a positive number, not 0"),
        ({"size": D("NaN")}, "size must be a positive number, not NaN"),
        ({"leverage": D(-2)}, "leverage must be a positive number, not -2"),
        ({"price": None}, "a limit order needs a price and a size, and no funds"),
        ({"funds": D(5)}, "a limit order needs a price and a size, and no funds"),
        ({"order_type": OrderType.MARKET}, "a market order needs a size or funds"),
        ({"order_type": OrderType.MARKET, "price": None, "size": None},
         "a market order needs a size or funds"),
        ({"reduce_only": True}, "reduce-only is a futures flag"),
    ],
)  # fmt: skip
def test_malformed_orders(kw: dict[str, object], sentence: str) -> None:
    d = check(order(**kw))  # type: ignore[arg-type]
    assert not d.allowed
    assert d.codes[0] == "risk.bad_order"
    assert sentence in d.explain()


def test_futures_by_funds_is_malformed() -> None:
    o = order(market=MarketKind.FUTURES, symbol="XBTUSDTM", order_type=OrderType.MARKET,
              price=None, size=None, funds=D(100))  # fmt: skip
    d = check(o, m=futures_market())
    assert "a futures order is sized in lots, not funds" in d.explain()


def test_decision_helpers() -> None:
    assert Decision(True).explain() == "allowed"
    d = Decision(False, (Failure("risk.a", "one"), Failure("risk.b", "two")))
    assert d.codes == ("risk.a", "risk.b")
    assert d.explain() == "risk.a: one\nrisk.b: two"
    assert str(Failure("risk.a", "one")) == "risk.a: one"


def test_allowed_decision_carries_the_order_and_notional() -> None:
    o = order()
    d = check(o)
    assert d.allowed and d.order == o and not d.amended and d.notional == D("6695.0")


FORBIDDEN = {"asyncio", "aiohttp", "sqlalchemy", "fastapi", "time", "random", "socket",
             "datetime", "os", "logging"}  # fmt: skip


def test_the_package_is_pure() -> None:
    """No I/O frameworks, no clock, no randomness: only the standard library's pure parts."""
    root = Path(kcgateway.risk.__file__).parent
    for path in root.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                top = name.split(".")[0]
                assert top not in FORBIDDEN, f"{path.name} imports {name}"
                if top == "kcgateway":
                    assert name.startswith("kcgateway.risk"), f"{path.name} imports {name}"


def test_an_input_it_cannot_compute_with_denies() -> None:
    from kcgateway.risk import OpenOrder, Side
    from tests.kcgateway.risk.builders import account, st

    bad = OpenOrder("BTC", "BTC-USDT", Side.BUY, D("NaN"), D("NaN"))
    d = check(a=account(open_orders=st((bad,))))
    assert not d.allowed
    assert d.explain() == (
        "risk.internal_error: the risk check could not be computed (InvalidOperation); the "
        "order is refused"
    )


@pytest.mark.parametrize(
    "asks",
    [
        ((D(66960), D(0)),),
        ((D(-1), D(1)),),
        ((D(66960), D("NaN")),),
        ((D(67000), D(1)), (D(66960), D(1))),  # out of order
    ],
)
def test_a_book_that_is_not_sane_denies_market_orders(asks: object) -> None:
    from kcgateway.risk import Book
    from tests.kcgateway.risk.builders import BOOK, market, st

    m = market(book=st(Book(bids=BOOK.bids, asks=asks)))  # type: ignore[arg-type]
    d = check(order(order_type=OrderType.MARKET, price=None, size=D("0.1")), m=m)
    assert d.codes == ("risk.stale_data",)
    assert "the order book of BTC-USDT is not sane" in d.explain()
    assert check(order(), m=m).allowed  # a limit order does not walk the book
    sell = order(order_type=OrderType.MARKET, side=Side.SELL, price=None, size=D("0.1"))
    assert check(sell, m=m).allowed  # the bids are sane


def test_sane_levels() -> None:
    from kcgateway.risk.pricing import sane_levels

    assert sane_levels(((D(2), D(1)), (D(1), D(1))), ascending=False)
    assert not sane_levels(((D(1), D(1)), (D(2), D(1))), ascending=False)
    assert sane_levels((), ascending=True)
