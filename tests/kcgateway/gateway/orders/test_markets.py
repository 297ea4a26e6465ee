"""The market objects: terms checks, and sizing (finding 7: nothing unvalued passes)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import pytest

from kcgateway.errors import NotSizable, ValidationError
from kcgateway.gateway.orders import OrderRequest
from kcgateway.gateway.orders.markets import (
    FUTURES,
    MARGIN,
    SPOT,
    ContractCache,
    Futures,
    Markets,
    MarketTerms,
    check_terms,
    futures_notional,
    trade_type,
)
from kcgateway.kucoin import models as m


def _req(terms: MarketTerms, **over: object) -> OrderRequest:
    base: dict[str, object] = {
        "account": "main",
        "symbol": "XBTUSDTM" if terms.market == FUTURES else "BTC-USDT",
        "side": "buy",
        "price": Decimal(60000),
        "size": Decimal(1),
        "terms": terms,
    }
    base.update(over)
    return OrderRequest(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("terms", "over"),
    [
        (MarketTerms(), {}),
        (MarketTerms(MARGIN, margin_mode="cross"), {}),
        (MarketTerms(MARGIN, margin_mode="isolated", auto_borrow=True, auto_repay=True), {}),
        (MarketTerms(FUTURES), {}),
        (
            MarketTerms(FUTURES, "CROSS", Decimal(3), reduce_only=True, close_order=True),
            {"time_in_force": "IOC"},
        ),
    ],
)
def test_valid_terms_pass(terms: MarketTerms, over: dict[str, object]) -> None:
    check_terms(_req(terms, **over))


@pytest.mark.parametrize(
    ("terms", "over", "field"),
    [
        (MarketTerms("options"), {}, "market"),
        (MarketTerms(margin_mode="cross"), {}, "market"),
        (MarketTerms(MARGIN), {}, "marginMode"),
        (MarketTerms(MARGIN, margin_mode="CROSS"), {}, "marginMode"),
        (MarketTerms(MARGIN, margin_mode="cross", leverage=Decimal(2)), {}, "market"),
        (MarketTerms(MARGIN, margin_mode="cross", reduce_only=True), {}, "market"),
        (MarketTerms(FUTURES), {"funds": Decimal(10), "size": None}, "funds"),
        (MarketTerms(FUTURES), {"size": None}, "size"),
        (MarketTerms(FUTURES), {"size": Decimal("1.5")}, "size"),
        (MarketTerms(FUTURES, margin_mode="cross"), {}, "marginMode"),
        (MarketTerms(FUTURES, leverage=Decimal(0)), {}, "leverage"),
        (MarketTerms(FUTURES, leverage=Decimal("NaN")), {}, "leverage"),
        (MarketTerms(FUTURES, auto_borrow=True), {}, "market"),
        (MarketTerms(FUTURES), {"time_in_force": "FOK"}, "timeInForce"),
    ],
)
def test_invalid_terms_name_the_field(
    terms: MarketTerms, over: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        check_terms(_req(terms, **over))
    assert info.value.field == field


def test_trade_types() -> None:
    assert trade_type("cross") == "MARGIN_TRADE"
    assert trade_type("isolated") == "MARGIN_ISOLATED_TRADE"
    assert trade_type(None) == "MARGIN_TRADE"


def _contract(multiplier: str, *, inverse: bool = False) -> m.FuturesContract:
    return m.FuturesContract(
        symbol="XBTUSDM" if inverse else "XBTUSDTM",
        base_currency="XBT",
        quote_currency="USD" if inverse else "USDT",
        settle_currency="XBT" if inverse else "USDT",
        lot_size=Decimal(1),
        tick_size=Decimal("0.1"),
        multiplier=Decimal(multiplier),
        is_inverse=inverse,
    )


def test_futures_notional_uses_the_contract() -> None:
    linear = _contract("0.001")
    assert futures_notional(_req(MarketTerms(FUTURES), size=Decimal(3)), linear) == Decimal(180)
    market = _req(MarketTerms(FUTURES), order_type="market", price=None)
    assert futures_notional(market, linear) is None, "no price, no notional"
    inverse = _contract("-1", inverse=True)
    assert futures_notional(_req(MarketTerms(FUTURES), size=Decimal(50)), inverse) == 50
    assert futures_notional(_req(MarketTerms(FUTURES), size=None), linear) is None


class _Quotes:
    """A public client stand-in: a spot ticker and futures contracts/ticker, counting reads."""

    def __init__(
        self,
        ticker: m.Ticker | None = None,
        contract: m.FuturesContract | None = None,
        futures_price: Decimal = Decimal(0),
    ) -> None:
        self.market = self
        self.futures = self
        self._ticker = ticker
        self._contract = contract
        self._futures_price = futures_price
        self.contract_reads = 0

    async def ticker(self, symbol: str) -> Any:
        if self._ticker is not None:
            return self._ticker
        return m.FuturesTicker(sequence=1, symbol=symbol, price=self._futures_price, ts=1)

    async def contract(self, symbol: str) -> m.FuturesContract:
        self.contract_reads += 1
        assert self._contract is not None
        return self._contract


def _ticker(**prices: str | None) -> m.Ticker:
    values = {k: None if v is None else Decimal(v) for k, v in prices.items()}
    return m.Ticker(time=1, sequence="1", **values)  # type: ignore[arg-type]


def _market(terms: MarketTerms, **over: object) -> OrderRequest:
    return _req(terms, order_type="market", price=None, **over)


@pytest.mark.parametrize("name", [SPOT, MARGIN])
async def test_a_market_order_by_size_is_valued_at_the_opposite_best_quote(name: str) -> None:
    quotes = _Quotes(_ticker(price="100", best_bid="99", best_ask="101"))
    market = Markets().of(name)
    terms = MarketTerms(name, margin_mode="cross" if name == MARGIN else None)
    buy = _market(terms, size=Decimal(2))
    assert await market.notional(buy, quotes) == Decimal(202)  # type: ignore[arg-type]
    sell = _market(terms, side="sell", size=Decimal(2))
    assert await market.notional(sell, quotes) == Decimal(198)  # type: ignore[arg-type]
    empty_book = _Quotes(_ticker(price="100"))
    assert await market.notional(buy, empty_book) == Decimal(200)  # type: ignore[arg-type]
    by_funds = _market(terms, size=None, funds=Decimal(7))
    assert await market.notional(by_funds, None) == Decimal(7), "funds need no price feed"
    assert await market.notional(_req(terms), None) == Decimal(60000), "limit: price x size"


@pytest.mark.parametrize(
    "quotes",
    [None, _Quotes(_ticker(price=None)), _Quotes(_ticker(price="0"))],
    ids=["no-source", "no-trades", "zero"],
)
async def test_a_market_order_without_a_price_is_refused_not_passed(quotes: Any) -> None:
    with pytest.raises(NotSizable) as info:
        await Markets().of(SPOT).notional(_market(MarketTerms(), size=Decimal(1)), quotes)
    assert info.value.symbol == "BTC-USDT" and "price or funds" in str(info.value)


async def test_futures_orders_are_valued_from_a_cached_contract() -> None:
    linear = msgspec.structs.replace(_contract("0.001"), mark_price=Decimal(50000))
    quotes = _Quotes(contract=linear, futures_price=Decimal(1))
    clock = [0.0]
    futures = Futures(ContractCache(ttl_s=60, clock=lambda: clock[0]))
    limit = _req(MarketTerms(FUTURES), size=Decimal(3))
    assert await futures.notional(limit, quotes) == Decimal(180)  # type: ignore[arg-type]
    market = _market(MarketTerms(FUTURES), size=Decimal(2))
    assert await futures.notional(market, quotes) == Decimal(100)  # type: ignore[arg-type]
    assert quotes.contract_reads == 1, "the second order reuses the contract"
    clock[0] = 61.0
    await futures.notional(limit, quotes)  # type: ignore[arg-type]
    assert quotes.contract_reads == 2, "re-read once the cache entry is stale"
    with pytest.raises(NotSizable):
        await futures.notional(limit, None)


async def test_a_linear_futures_market_order_without_mark_uses_the_last_trade() -> None:
    quotes = _Quotes(contract=_contract("0.01"), futures_price=Decimal(2000))
    futures = Futures()
    order = _market(MarketTerms(FUTURES), size=Decimal(5))
    assert await futures.notional(order, quotes) == Decimal(100)  # type: ignore[arg-type]
    no_trade = _Quotes(contract=_contract("0.01"), futures_price=Decimal(0))
    with pytest.raises(NotSizable):
        await Futures().notional(order, no_trade)  # type: ignore[arg-type]
