"""The one place that builds the engine from the simulator's configuration."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from kucoin_sim.engine import EngineError, Exchange, load
from kucoin_sim.rest.params import ApiError


def make_exchange(raw: Mapping[str, Any], seed: int, now_ms: int) -> Exchange:
    """Build the engine from the config's ``[engine]`` table (engine defaults when empty)."""
    return Exchange.from_config(load(raw), seed, now_ms)


def tick(exchange: Exchange, now_ms: int) -> None:
    """One market-maker step (and GTT expiry)."""
    exchange.tick(now_ms)


def set_price(exchange: Exchange, symbol: str, price: Decimal, now_ms: int) -> None:
    """Move a symbol's price (its market maker re-centres and trades through the book)."""
    try:
        exchange.set_price(symbol, price, now_ms)
    except EngineError as exc:
        raise ApiError(exc.code, exc.message) from exc


Level = tuple[Decimal, Decimal]


def mirror_book(
    exchange: Exchange, symbol: str, bids: list[Level], asks: list[Level], now_ms: int
) -> None:
    """Make a symbol's book quote another market's levels (its maker mirrors them)."""
    try:
        exchange.mirror_book(symbol, bids, asks, now_ms)
    except EngineError as exc:
        raise ApiError(exc.code, exc.message) from exc
