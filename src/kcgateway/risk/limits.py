"""Every threshold of the risk engine, its default, and how the four levels combine.

:class:`Limits` is a complete set: its defaults switch every check ON. The gateway holds one
:class:`Limits`; a tenant, an account and a key may each hold :class:`LimitOverrides`, where
``None`` means "no opinion". :func:`resolve_limits` folds gateway -> tenant -> account -> key
and the TIGHTEST value wins, so a narrower level can only tighten:

- a maximum (notional, position, rate, ...) takes the smallest value set;
- a minimum (the liquidity volume floor) and a look-back window take the largest;
- a check is on when any level switches it on (switching a check off is the gateway's call);
- the symbol allow-list and the thin-symbol allow-list are intersected over the levels that
  set one; the symbol deny-list is the union of all levels;
- ``market_to_ioc`` is a preference, not a limit: the most specific level that sets it wins.

Percentages are in percent (``5`` is 5%). Notional amounts are in the quote currency.
Times are in milliseconds.
"""

# ruff: noqa: RUF009  (Decimal is immutable: a Decimal default is safe to share)
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

D = Decimal


@dataclass(frozen=True, slots=True)
class Limits:
    """The resolved limits for one order. Defaults: every check ON."""

    # 1. symbol allowed
    check_symbol: bool = True
    symbol_allow: frozenset[str] | None = None  #: None: every tradable symbol
    symbol_deny: frozenset[str] = frozenset()
    # 2. price collar
    check_price_collar: bool = True
    price_collar_pct: Decimal = D(5)
    market_to_ioc: bool = False  #: opt-in: a market order that breaks the collar becomes IOC
    # 3. notional per order
    check_notional: bool = True
    max_order_notional: Decimal = D(100_000)
    # 4. position and exposure
    check_exposure: bool = True
    max_symbol_position: Decimal = D(250_000)  #: |net position| after the order and open orders
    max_symbol_gross: Decimal = D(500_000)  #: |position| + every open order + this order
    max_account_gross: Decimal = D(1_000_000)
    max_open_orders: int = 200
    # 5. liquidity guard
    check_liquidity: bool = True
    max_volume_share_pct: Decimal = D(1)  #: order notional / 24 h quote volume
    liquid_top_n: int = 300
    min_volume_24h: Decimal = D(1_000_000)
    thin_symbol_allow: frozenset[str] = frozenset()
    # 6. rates
    check_rates: bool = True
    key_orders_per_second: int = 10
    key_orders_per_minute: int = 300
    account_orders_per_second: int = 20
    account_orders_per_minute: int = 600
    daily_orders: int = 20_000
    daily_turnover: Decimal = D(5_000_000)
    # 7. duplicate guard
    check_duplicates: bool = True
    duplicate_window_ms: int = 2_000
    # 8. drawdown
    check_drawdown: bool = True
    drawdown_reducing_pct: Decimal = D(15)
    drawdown_halt_pct: Decimal = D(25)
    daily_loss_reducing_pct: Decimal = D(5)
    daily_loss_halt_pct: Decimal = D(10)
    # stolen-key detector
    check_detector: bool = True
    dormant_after_ms: int = 7 * 24 * 3_600_000
    dump_share_pct: Decimal = D(80)
    dump_window_ms: int = 120_000
    dump_min_holdings: Decimal = D(100)
    pump_above_baseline_pct: Decimal = D(10)
    burst_accounts_tenant: int = 3
    burst_accounts_gateway: int = 5
    burst_window_ms: int = 120_000
    # freshness bounds
    max_price_age_ms: int = 5_000
    max_balance_age_ms: int = 5_000
    max_activity_age_ms: int = 5_000
    max_rules_age_ms: int = 300_000
    max_volume_age_ms: int = 300_000
    max_baseline_age_ms: int = 300_000


@dataclass(frozen=True, slots=True)
class LimitOverrides:
    """A tenant's, account's or key's own settings; ``None`` means "take the wider level's"."""

    check_symbol: bool | None = None
    symbol_allow: frozenset[str] | None = None
    symbol_deny: frozenset[str] | None = None
    check_price_collar: bool | None = None
    price_collar_pct: Decimal | None = None
    market_to_ioc: bool | None = None
    check_notional: bool | None = None
    max_order_notional: Decimal | None = None
    check_exposure: bool | None = None
    max_symbol_position: Decimal | None = None
    max_symbol_gross: Decimal | None = None
    max_account_gross: Decimal | None = None
    max_open_orders: int | None = None
    check_liquidity: bool | None = None
    max_volume_share_pct: Decimal | None = None
    liquid_top_n: int | None = None
    min_volume_24h: Decimal | None = None
    thin_symbol_allow: frozenset[str] | None = None
    check_rates: bool | None = None
    key_orders_per_second: int | None = None
    key_orders_per_minute: int | None = None
    account_orders_per_second: int | None = None
    account_orders_per_minute: int | None = None
    daily_orders: int | None = None
    daily_turnover: Decimal | None = None
    check_duplicates: bool | None = None
    duplicate_window_ms: int | None = None
    check_drawdown: bool | None = None
    drawdown_reducing_pct: Decimal | None = None
    drawdown_halt_pct: Decimal | None = None
    daily_loss_reducing_pct: Decimal | None = None
    daily_loss_halt_pct: Decimal | None = None
    check_detector: bool | None = None
    dormant_after_ms: int | None = None
    dump_share_pct: Decimal | None = None
    dump_window_ms: int | None = None
    dump_min_holdings: Decimal | None = None
    pump_above_baseline_pct: Decimal | None = None
    burst_accounts_tenant: int | None = None
    burst_accounts_gateway: int | None = None
    burst_window_ms: int | None = None
    max_price_age_ms: int | None = None
    max_balance_age_ms: int | None = None
    max_activity_age_ms: int | None = None
    max_rules_age_ms: int | None = None
    max_volume_age_ms: int | None = None
    max_baseline_age_ms: int | None = None


Combine = Callable[[Any, Any], Any]


def _tighter_max(wide: Any, narrow: Any) -> Any:
    return min(wide, narrow)


def _tighter_min(wide: Any, narrow: Any) -> Any:
    return max(wide, narrow)


def _any_on(wide: Any, narrow: Any) -> Any:
    return bool(wide) or bool(narrow)


def _narrowest(_wide: Any, narrow: Any) -> Any:
    return narrow


def _union(wide: Any, narrow: Any) -> Any:
    return frozenset(wide) | frozenset(narrow)


def _intersect_allow(wide: Any, narrow: Any) -> Any:
    if wide is None:
        return frozenset(narrow)
    return frozenset(wide) & frozenset(narrow)


def _intersect(wide: Any, narrow: Any) -> Any:
    return frozenset(wide) & frozenset(narrow)


#: fields whose tighter value is NOT the smaller one
_SPECIAL: dict[str, Combine] = {
    "symbol_allow": _intersect_allow,
    "symbol_deny": _union,
    "thin_symbol_allow": _intersect,
    "market_to_ioc": _narrowest,
    "min_volume_24h": _tighter_min,
    "duplicate_window_ms": _tighter_min,
    "dump_window_ms": _tighter_min,
    "burst_window_ms": _tighter_min,
}


def _combine_for(name: str) -> Combine:
    if name in _SPECIAL:
        return _SPECIAL[name]
    if name.startswith("check_"):
        return _any_on
    return _tighter_max


_FIELDS = tuple((f.name, _combine_for(f.name)) for f in fields(Limits))


def resolve_limits(gateway: Limits, *levels: LimitOverrides | None) -> Limits:
    """Fold ``tenant``, ``account`` and ``key`` overrides (in that order) onto the gateway's.

    The tightest value wins (see the module docstring); ``None`` levels are skipped. Pure.
    """
    values = {name: getattr(gateway, name) for name, _ in _FIELDS}
    for level in levels:
        if level is None:
            continue
        for name, combine in _FIELDS:
            narrow = getattr(level, name)
            if narrow is not None:
                values[name] = combine(values[name], narrow)
    return Limits(**values)
