"""Local order validation from cached symbol rules: a clear error and no request sent.

KuCoin rejects an order whose price is off the tick, whose size is off the lot or outside the
limits, or whose value is below ``minFunds`` - after the request has spent rate budget and a
round trip. :func:`check_order` (pure) catches these first; :class:`SymbolRulesCache` loads
the rules (the core :class:`Symbol` model) from ``GET /api/v2/symbols`` once and refreshes
them after ``ttl_s``.

Sample symbol (``/api/v2/symbols`` item, abridged)::

    {"symbol": "BTC-USDT", "baseMinSize": "0.00001", "baseMaxSize": "10000000000",
     "quoteMinSize": "0.1", "quoteMaxSize": "99999999", "baseIncrement": "0.00000001",
     "quoteIncrement": "0.000001", "priceIncrement": "0.1", "minFunds": "0.1",
     "enableTrading": true}
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import TYPE_CHECKING

from kcgateway.errors import ValidationError
from kcgateway.kucoin.models import Symbol, parse_symbols

if TYPE_CHECKING:
    from kcgateway.exchange.rest import KuCoinClient


SymbolRules = Symbol
"""The rules of a symbol are the core :class:`~kcgateway.kucoin.models.Symbol` model."""


def _multiple(value: Decimal, step: Decimal) -> bool:
    return step <= 0 or value % step == 0


def _check_size(rules: SymbolRules, size: Decimal) -> None:
    if not _multiple(size, rules.base_increment):
        raise ValidationError(
            f"size {size:f} is not a multiple of {rules.base_increment:f}", field="size"
        )
    if not rules.base_min_size <= size <= rules.base_max_size:
        raise ValidationError(
            f"size {size:f} is outside [{rules.base_min_size:f}, {rules.base_max_size:f}]",
            field="size",
        )


def _check_funds(rules: SymbolRules, funds: Decimal) -> None:
    if not _multiple(funds, rules.quote_increment):
        raise ValidationError(
            f"funds {funds:f} is not a multiple of {rules.quote_increment:f}", field="funds"
        )
    if not rules.quote_min_size <= funds <= rules.quote_max_size:
        raise ValidationError(
            f"funds {funds:f} is outside [{rules.quote_min_size:f}, {rules.quote_max_size:f}]",
            field="funds",
        )


def _check_limit(rules: SymbolRules, price: Decimal | None, size: Decimal | None) -> None:
    if price is None or price <= 0:
        raise ValidationError("a limit order needs a positive price", field="price")
    if size is None:
        raise ValidationError("a limit order needs a size", field="size")
    if not _multiple(price, rules.price_increment):
        raise ValidationError(
            f"price {price:f} is not a multiple of {rules.price_increment:f}", field="price"
        )
    _check_size(rules, size)
    if rules.min_funds is not None and price * size < rules.min_funds:
        raise ValidationError(
            f"order value {price * size:f} is below minFunds {rules.min_funds:f}", field="size"
        )


def _check_market(rules: SymbolRules, size: Decimal | None, funds: Decimal | None) -> None:
    if (size is None) == (funds is None):
        raise ValidationError("a market order needs exactly one of size and funds", field="size")
    if size is not None:
        _check_size(rules, size)
    if funds is not None:
        _check_funds(rules, funds)


def check_order(
    rules: SymbolRules,
    *,
    order_type: str,
    price: Decimal | None,
    size: Decimal | None,
    funds: Decimal | None = None,
) -> None:
    """Raise :class:`ValidationError` if the order breaks ``rules``. Pure."""
    if not rules.enable_trading:
        raise ValidationError(f"{rules.symbol} is not enabled for trading", field="symbol")
    if order_type == "limit":
        _check_limit(rules, price, size)
    elif order_type == "market":
        _check_market(rules, size, funds)
    else:
        raise ValidationError(f"unknown order type {order_type!r}", field="type")


class SymbolRulesCache:
    """Spot symbol rules loaded once from the exchange and kept for ``ttl_s`` seconds."""

    def __init__(
        self, client: KuCoinClient, *, enabled: bool = True, ttl_s: float = 3600.0
    ) -> None:
        self._client = client
        self.enabled = enabled
        self._ttl_s = ttl_s
        self._rules: dict[str, SymbolRules] = {}
        self._loaded_at: float | None = None
        self._lock = asyncio.Lock()

    def put(self, rules: Symbol) -> None:
        """Add or replace one symbol's rules (e.g. from an earlier symbols call)."""
        self._rules[rules.symbol] = rules

    def _age(self) -> float:
        if self._loaded_at is None:
            return float("inf")
        return self._client.clock.monotonic() - self._loaded_at

    def _fresh(self) -> bool:
        return self._age() < self._ttl_s

    async def load(self) -> None:
        """Fetch every symbol's rules (``GET /api/v2/symbols``)."""
        self.put_all(parse_symbols(await self._client.call("market.symbols")))

    def put_all(self, symbols: list[Symbol]) -> None:
        """Replace the cache with ``symbols`` (a full ``/api/v2/symbols`` list)."""
        self._rules = {s.symbol: s for s in symbols}
        self._loaded_at = self._client.clock.monotonic()

    async def get(self, symbol: str) -> SymbolRules:
        """The rules of ``symbol``, loading them if missing or stale."""
        rules = self._rules.get(symbol)
        if rules is not None and self._fresh():
            return rules
        async with self._lock:
            # a symbol missing from a fresh list is looked up again at most once a minute
            if not self._fresh() or (symbol not in self._rules and self._age() >= 60):
                await self.load()
        rules = self._rules.get(symbol)
        if rules is None:
            raise ValidationError(f"unknown symbol {symbol}", field="symbol")
        return rules

    def check_cached(
        self,
        symbol: str,
        *,
        order_type: str,
        price: Decimal | None,
        size: Decimal | None,
        funds: Decimal | None = None,
    ) -> bool:
        """Validate from fresh cached rules without awaiting; False when they must be loaded.

        The hot path of every placement: no coroutine, no lock. On False, call :meth:`check`.
        """
        if not self.enabled:
            return True
        rules = self._rules.get(symbol)
        if rules is None or not self._fresh():
            return False
        check_order(rules, order_type=order_type, price=price, size=size, funds=funds)
        return True

    async def check(
        self,
        symbol: str,
        *,
        order_type: str,
        price: Decimal | None,
        size: Decimal | None,
        funds: Decimal | None = None,
    ) -> None:
        """Validate an order against the cached rules (no-op when validation is disabled)."""
        if self.enabled:
            rules = await self.get(symbol)
            check_order(rules, order_type=order_type, price=price, size=size, funds=funds)
