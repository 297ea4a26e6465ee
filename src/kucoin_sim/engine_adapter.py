"""The one place that builds the engine and calls its optional parts (market makers, futures).

The engine (``kucoin_sim.engine``) is built by another branch and grows over time; calls to
parts that may not exist yet go through here so the HTTP side degrades to a clear 400100
instead of an AttributeError.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from kucoin_sim.engine import Exchange, load
from kucoin_sim.rest.params import ApiError


def make_exchange(raw: Mapping[str, Any], seed: int) -> Exchange:
    """Build the engine from the config's ``[engine]`` table (defaults when empty)."""
    cfg = load(raw)
    exchange = Exchange(cfg.symbols, cfg.contracts, seed=seed)
    setup = getattr(exchange, "add_market_makers", None)
    if setup is not None:
        setup(cfg.market_makers)
    return exchange


def tick(exchange: Exchange, now_ms: int) -> None:
    """One market-maker step (and GTT expiry)."""
    step = getattr(exchange, "tick", None)
    if step is not None:
        step(now_ms)
    else:
        exchange.expire(now_ms)


def set_price(exchange: Exchange, symbol: str, price: Decimal, now_ms: int) -> None:
    """Move a market maker's mid price."""
    setter = getattr(exchange, "set_price", None)
    if setter is None:
        raise ApiError("400100", "this engine build cannot set prices yet")
    setter(symbol, price, now_ms)
