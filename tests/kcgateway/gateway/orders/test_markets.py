"""The market terms checks and the futures notional (pure)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kcgateway.errors import ValidationError
from kcgateway.gateway.orders import OrderRequest
from kcgateway.gateway.orders.markets import (
    FUTURES,
    MARGIN,
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
