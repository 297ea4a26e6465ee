"""Local order validation from symbol rules (pure part)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kcgateway.errors import ValidationError
from kcgateway.exchange.rules import SymbolRules, check_order
from kcgateway.kucoin.models import parse_symbol

ROW = {
    "symbol": "BTC-USDT",
    "baseCurrency": "BTC",
    "quoteCurrency": "USDT",
    "baseMinSize": "0.00001",
    "baseMaxSize": "100",
    "quoteMinSize": "0.1",
    "quoteMaxSize": "99999999",
    "baseIncrement": "0.00001",
    "quoteIncrement": "0.01",
    "priceIncrement": "0.1",
    "minFunds": "1",
    "enableTrading": True,
}
D = Decimal


def rules(**over: object) -> SymbolRules:
    return parse_symbol({**ROW, **over})


def test_parse_row_exactly() -> None:
    r = rules()
    assert r.symbol == "BTC-USDT"
    assert r.price_increment == D("0.1")
    assert r.min_funds == D("1")
    assert r.enable_trading is True
    assert rules(minFunds=None).min_funds is None


def test_valid_limit_and_market_orders_pass() -> None:
    check_order(rules(), order_type="limit", price=D("30000.1"), size=D("0.001"))
    check_order(rules(), order_type="market", price=None, size=D("0.001"))
    check_order(rules(), order_type="market", price=None, size=None, funds=D("10.5"))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"order_type": "limit", "price": D("30000.15"), "size": D("0.001")}, "price"),
        ({"order_type": "limit", "price": None, "size": D("0.001")}, "price"),
        ({"order_type": "limit", "price": D("0"), "size": D("0.001")}, "price"),
        ({"order_type": "limit", "price": D("30000"), "size": None}, "size"),
        ({"order_type": "limit", "price": D("30000"), "size": D("0.000011")}, "size"),
        ({"order_type": "limit", "price": D("30000"), "size": D("101")}, "size"),
        ({"order_type": "limit", "price": D("0.1"), "size": D("0.001")}, "size"),  # < minFunds
        ({"order_type": "market", "price": None, "size": None}, "size"),
        ({"order_type": "market", "price": None, "size": D("1"), "funds": D("1")}, "size"),
        ({"order_type": "market", "price": None, "size": None, "funds": D("1.001")}, "funds"),
        ({"order_type": "market", "price": None, "size": None, "funds": D("0.05")}, "funds"),
        ({"order_type": "stop", "price": None, "size": D("1")}, "type"),
    ],
)
def test_bad_orders_fail_with_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        check_order(rules(), **kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def test_disabled_symbol_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        check_order(rules(enableTrading=False), order_type="limit", price=D("1"), size=D("1"))
    assert info.value.field == "symbol"


def test_zero_increment_means_no_step() -> None:
    check_order(rules(priceIncrement="0"), order_type="limit", price=D("30000.123"), size=D("1"))


class _Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def monotonic(self) -> float:
        return self.t


class _Client:
    def __init__(self) -> None:
        self.clock = _Clock()


def test_check_cached_validates_fresh_rules_and_defers_the_rest() -> None:
    from typing import Any

    from kcgateway.exchange.rules import SymbolRulesCache

    client: Any = _Client()
    cache = SymbolRulesCache(client, ttl_s=60)
    order: dict[str, Any] = {"order_type": "limit", "price": D("30000.1"), "size": D("0.001")}
    assert cache.check_cached("BTC-USDT", **order) is False  # nothing loaded: must load first
    cache.put_all([rules()])
    assert cache.check_cached("BTC-USDT", **order) is True
    assert cache.check_cached("ETH-USDT", **order) is False  # unknown here: the slow path decides
    with pytest.raises(ValidationError):
        cache.check_cached("BTC-USDT", order_type="limit", price=D("30000.15"), size=D("0.001"))
    client.clock.t += 61  # stale: reload before trusting the rules
    assert cache.check_cached("BTC-USDT", **order) is False
    off = SymbolRulesCache(client, enabled=False)
    assert off.check_cached("ANY", order_type="nonsense", price=None, size=None) is True
