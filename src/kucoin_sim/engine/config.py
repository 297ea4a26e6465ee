"""Default symbols, contracts and market makers, and loading them from a plain dict.

The server parses the TOML/JSON file; :func:`load` turns the resulting dict into typed specs.
Shape (every key optional; missing sections fall back to the defaults)::

    {
      "symbols": [{"symbol": "BTC-USDT", "base": "BTC", "quote": "USDT",
                   "base_min_size": "0.00001", "base_increment": "0.00000001", ...}],
      "contracts": [{"symbol": "XBTUSDTM", "base": "XBT", "quote": "USDT", "settle": "USDT",
                     "multiplier": "0.001", "lot_size": "1", "tick_size": "0.1", ...}],
      "market_makers": [{"symbol": "BTC-USDT", "mid": "65000", "spread": "0.0002",
                         "levels": 10, "size": "0.05", "volatility": "0.0005"}],
      "retention": {"done_orders": 10000, "fills": 10000, "max_age_ms": 604800000}
    }

Numbers may be given as strings or numbers; they become Decimal (never float arithmetic).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from kucoin_sim.engine.registry import Retention
from kucoin_sim.engine.types import ContractSpec, SymbolSpec

D = Decimal


@dataclass(frozen=True, slots=True)
class MarketMakerConfig:
    """One market maker: quotes ``levels`` levels each side of a random-walk ``mid``.

    ``spread`` is the relative distance of the first level from mid (0.0002 = 2 bp), ``step``
    the relative distance between levels, ``size`` the size per level (lots for futures),
    ``volatility`` the standard deviation of the relative mid move per tick. ``volume_24h`` is
    the base volume the rest of the market (participants the simulator does not model) trades
    in 24 h: it is added to the 24 h statistics (``vol``, and ``volValue`` at the last price),
    so liquid and illiquid symbols rank as they would live.
    """

    symbol: str
    mid: Decimal
    spread: Decimal = Decimal("0.0005")
    step: Decimal = Decimal("0.0005")
    levels: int = 10
    size: Decimal = Decimal(1)
    volatility: Decimal = Decimal("0.0005")
    volume_24h: Decimal = Decimal(0)


def _spot(
    symbol: str, base: str, quote: str, inc: tuple[str, str, str], mins: tuple[str, str]
) -> SymbolSpec:
    base_inc, quote_inc, price_inc = (D(x) for x in inc)
    base_min, quote_min = (D(x) for x in mins)
    return SymbolSpec(
        symbol=symbol,
        base=base,
        quote=quote,
        base_min_size=base_min,
        base_max_size=D(10_000_000_000),
        base_increment=base_inc,
        quote_min_size=quote_min,
        quote_max_size=D(99_999_999),
        quote_increment=quote_inc,
        price_increment=price_inc,
        min_funds=quote_min,
    )


DEFAULT_SYMBOLS: tuple[SymbolSpec, ...] = (
    _spot("BTC-USDT", "BTC", "USDT", ("0.00000001", "0.000001", "0.1"), ("0.00001", "0.1")),
    _spot("ETH-USDT", "ETH", "USDT", ("0.0000001", "0.000001", "0.01"), ("0.0001", "0.1")),
    _spot("ETH-BTC", "ETH", "BTC", ("0.0000001", "0.00000001", "0.00001"), ("0.0001", "0.00001")),
    _spot("KCS-USDT", "KCS", "USDT", ("0.0001", "0.000001", "0.001"), ("0.01", "0.1")),
    _spot("SOL-USDT", "SOL", "USDT", ("0.0001", "0.000001", "0.01"), ("0.01", "0.1")),
    _spot("XRP-USDT", "XRP", "USDT", ("0.0001", "0.000001", "0.00001"), ("0.1", "0.1")),
    # an illiquid symbol: a thin book and a tiny 24 h volume (the pump-and-dump target)
    _spot("THIN-USDT", "THIN", "USDT", ("1", "0.000001", "0.0001"), ("1", "0.1")),
)

DEFAULT_CONTRACTS: tuple[ContractSpec, ...] = (
    ContractSpec(
        symbol="XBTUSDTM",
        base="XBT",
        quote="USDT",
        settle="USDT",
        multiplier=D("0.001"),
        lot_size=D(1),
        tick_size=D("0.1"),
        max_leverage=125,
    ),
    ContractSpec(
        symbol="ETHUSDTM",
        base="ETH",
        quote="USDT",
        settle="USDT",
        multiplier=D("0.01"),
        lot_size=D(1),
        tick_size=D("0.01"),
        max_leverage=100,
    ),
)

DEFAULT_MARKET_MAKERS: tuple[MarketMakerConfig, ...] = (
    MarketMakerConfig("BTC-USDT", D(65000), size=D("0.05"), volume_24h=D(1500)),
    MarketMakerConfig("ETH-USDT", D(3000), size=D(1), volume_24h=D(20000)),
    MarketMakerConfig("ETH-BTC", D("0.046"), size=D(1), volume_24h=D(2000)),
    MarketMakerConfig("KCS-USDT", D(10), size=D(100), volume_24h=D(300000)),
    MarketMakerConfig("SOL-USDT", D(150), size=D(10), volume_24h=D(200000)),
    MarketMakerConfig("XRP-USDT", D("0.6"), size=D(1000), volume_24h=D(50_000_000)),
    # three levels 2-4% from mid, $100 each: a few hundred dollars move the price
    MarketMakerConfig(
        "THIN-USDT",
        D("0.05"),
        spread=D("0.02"),
        step=D("0.01"),
        levels=3,
        size=D(2000),
        volatility=D("0.002"),
        volume_24h=D(20000),
    ),
    MarketMakerConfig("XBTUSDTM", D(65000), size=D(100)),
    MarketMakerConfig("ETHUSDTM", D(3000), size=D(100)),
)


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Everything the engine is built from."""

    symbols: tuple[SymbolSpec, ...] = DEFAULT_SYMBOLS
    contracts: tuple[ContractSpec, ...] = DEFAULT_CONTRACTS
    market_makers: tuple[MarketMakerConfig, ...] = field(default=DEFAULT_MARKET_MAKERS)
    retention: Retention = field(default_factory=Retention)


class ConfigError(ValueError):
    """The configuration dict is malformed; the message names the offending entry."""


def _convert(cls: type[Any], raw: Mapping[str, Any], where: str) -> Any:
    values: dict[str, Any] = {}
    types = {f.name: f.type for f in dataclasses.fields(cls)}
    for key, value in raw.items():
        if key not in types:
            raise ConfigError(f"{where}: unknown key {key!r}")
        values[key] = _coerce(types[key], value, f"{where}.{key}")
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _coerce(type_name: object, value: object, where: str) -> object:
    if type_name == "Decimal":
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ConfigError(f"{where}: expected a number")
        try:
            return D(str(value))
        except InvalidOperation:
            raise ConfigError(f"{where}: not a number: {value!r}") from None
    if type_name == "int" and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{where}: expected an integer")
    if type_name == "bool" and not isinstance(value, bool):
        raise ConfigError(f"{where}: expected true or false")
    if type_name == "str" and not isinstance(value, str):
        raise ConfigError(f"{where}: expected a string")
    return value


def _section(
    raw: Mapping[str, Any], key: str, cls: type[Any], default: tuple[Any, ...]
) -> tuple[Any, ...]:
    items = raw.get(key)
    if items is None:
        return default
    if not isinstance(items, list):
        raise ConfigError(f"{key}: expected a list")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise ConfigError(f"{key}[{i}]: expected a table")
        out.append(_convert(cls, item, f"{key}[{i}]"))
    return tuple(out)


def load(raw: Mapping[str, Any]) -> EngineConfig:
    """Typed config from a parsed TOML/JSON dict (missing sections = defaults)."""
    return EngineConfig(
        symbols=_section(raw, "symbols", SymbolSpec, DEFAULT_SYMBOLS),
        contracts=_section(raw, "contracts", ContractSpec, DEFAULT_CONTRACTS),
        market_makers=_section(raw, "market_makers", MarketMakerConfig, DEFAULT_MARKET_MAKERS),
        retention=_retention(raw.get("retention")),
    )


def _retention(raw: object) -> Retention:
    if raw is None:
        return Retention()
    if not isinstance(raw, Mapping):
        raise ConfigError("retention: expected a table")
    retention: Retention = _convert(Retention, raw, "retention")
    return retention
