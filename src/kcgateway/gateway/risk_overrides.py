"""Limit overrides as stored and as typed by people: field kinds, checks, JSON. Pure.

:class:`~kcgateway.risk.limits.LimitOverrides` has one field per threshold; each is a switch
(``check_*``, ``market_to_ioc``), a whole number (counts, rates, milliseconds), a decimal
(amounts and percentages) or a set of symbols. :func:`check_overrides` refuses a value no
operator means (a maximum of zero, a percentage over 100, a malformed symbol) with a
:class:`~kcgateway.errors.ValidationError` naming the field in its wire (camelCase) form.
:func:`to_json` / :func:`from_json` are the stored form: only the fields set, decimals as text,
symbol sets as sorted lists.
"""

from __future__ import annotations

import re
from dataclasses import fields, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any

from kcgateway.errors import ValidationError
from kcgateway.risk.limits import LimitOverrides, Limits


class Kind(StrEnum):
    """What a limit field holds."""

    SWITCH = "switch"
    COUNT = "count"
    DECIMAL = "decimal"
    SYMBOLS = "symbols"


_SYMBOL_SETS = frozenset({"symbol_allow", "symbol_deny", "thin_symbol_allow"})
#: decimal fields that are a share of something: at most 100 (percent)
_AT_MOST_100 = frozenset(
    {
        "price_collar_pct",
        "max_volume_share_pct",
        "drawdown_reducing_pct",
        "drawdown_halt_pct",
        "daily_loss_reducing_pct",
        "daily_loss_halt_pct",
        "dump_share_pct",
    }
)
_SYMBOL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_SYMBOLS = 1000
#: pairs (lower, upper) that must keep their order when both are set in one level
_ORDERED = (
    ("drawdown_reducing_pct", "drawdown_halt_pct"),
    ("daily_loss_reducing_pct", "daily_loss_halt_pct"),
    ("key_orders_per_second", "key_orders_per_minute"),
    ("account_orders_per_second", "account_orders_per_minute"),
)


def _kind_of(name: str, default: object) -> Kind:
    if name in _SYMBOL_SETS:
        return Kind.SYMBOLS
    if isinstance(default, bool):
        return Kind.SWITCH
    if isinstance(default, int):
        return Kind.COUNT
    return Kind.DECIMAL


#: every LimitOverrides field and its kind, in declaration order
KINDS: dict[str, Kind] = {
    f.name: _kind_of(f.name, getattr(Limits(), f.name)) for f in fields(Limits)
}
#: the wire (JSON, CLI) name of each field: camelCase
WIRE: dict[str, str] = {
    name: name.split("_")[0] + "".join(p[:1].upper() + p[1:] for p in name.split("_")[1:])
    for name in KINDS
}
FROM_WIRE: dict[str, str] = {wire: name for name, wire in WIRE.items()}


def field_name(text: str) -> str:
    """The field for a wire or snake name; ValidationError listing the valid ones otherwise."""
    if text in FROM_WIRE:
        return FROM_WIRE[text]
    if text in KINDS:
        return text
    raise ValidationError(
        f"unknown limit {text!r}: the limits are {', '.join(WIRE.values())}", field=text
    )


def _refuse(name: str, why: str) -> ValidationError:
    return ValidationError(f"{WIRE[name]} {why}", field=WIRE[name])


def _check_value(name: str, value: object) -> None:
    kind = KINDS[name]
    if kind is Kind.SWITCH:
        if not isinstance(value, bool):
            raise _refuse(name, "must be true or false")
    elif kind is Kind.COUNT:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise _refuse(name, f"must be a whole number of at least 1, not {value!r}")
    elif kind is Kind.DECIMAL:
        if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
            raise _refuse(name, f"must be a decimal above 0, not {value!r}")
        if name in _AT_MOST_100 and value > 100:
            raise _refuse(name, f"is a percentage: at most 100, not {value}")
    else:
        _check_symbols(name, value)


def _check_symbols(name: str, value: object) -> None:
    if not isinstance(value, frozenset):
        raise _refuse(name, "must be a list of symbols")
    if len(value) > MAX_SYMBOLS:
        raise _refuse(name, f"lists {len(value)} symbols: at most {MAX_SYMBOLS}")
    for symbol in sorted(value):
        if not isinstance(symbol, str) or _SYMBOL.fullmatch(symbol) is None:
            raise _refuse(name, f"holds {symbol!r}, which is not a symbol such as BTC-USDT")


def check_overrides(overrides: LimitOverrides) -> LimitOverrides:
    """``overrides`` if every value set is one an operator can mean; ValidationError otherwise."""
    for name in KINDS:
        value = getattr(overrides, name)
        if value is not None:
            _check_value(name, value)
    for low, high in _ORDERED:
        lo, hi = getattr(overrides, low), getattr(overrides, high)
        if lo is not None and hi is not None and lo > hi:
            raise _refuse(low, f"({lo}) is above {WIRE[high]} ({hi}): lower it or raise that")
    return overrides


def overrides_of(values: dict[str, object]) -> LimitOverrides:
    """Overrides from wire or snake names (None values are "not set"), checked."""
    clean: dict[str, object] = {}
    for key, value in values.items():
        name = field_name(key)
        if value is None:
            continue
        symbols = KINDS[name] is Kind.SYMBOLS
        if symbols and isinstance(value, list | tuple | set | frozenset):
            clean[name] = frozenset(value)
        else:
            clean[name] = value
    return check_overrides(LimitOverrides(**clean))  # type: ignore[arg-type]


def is_empty(overrides: LimitOverrides) -> bool:
    """True when no field is set."""
    return all(getattr(overrides, name) is None for name in KINDS)


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, frozenset):
        return sorted(value)
    return value


def to_json(overrides: LimitOverrides) -> dict[str, Any]:
    """The stored form: only the fields set, snake names, decimals as text, sorted symbols."""
    return {
        name: _plain(getattr(overrides, name))
        for name in KINDS
        if getattr(overrides, name) is not None
    }


def to_wire(values: LimitOverrides | Limits, *, only_set: bool = True) -> dict[str, Any]:
    """The answer form: camelCase names, decimals as strings, sorted symbol lists."""
    out: dict[str, Any] = {}
    for name, wire in WIRE.items():
        value = getattr(values, name)
        if value is None and only_set:
            continue
        out[wire] = _plain(value)
    return out


def from_json(stored: dict[str, Any]) -> LimitOverrides:
    """The overrides a stored dict holds (a field the code no longer knows is ignored)."""
    values: dict[str, object] = {}
    for name, raw in stored.items():
        kind = KINDS.get(name)
        if kind is None or raw is None:
            continue
        if kind is Kind.DECIMAL:
            values[name] = Decimal(str(raw))
        elif kind is Kind.SYMBOLS:
            values[name] = frozenset(str(s) for s in raw)
        elif kind is Kind.COUNT:
            values[name] = int(raw)
        else:
            values[name] = bool(raw)
    return LimitOverrides(**values)  # type: ignore[arg-type]


def apply_to_gateway(base: Limits, overrides: LimitOverrides | None) -> Limits:
    """The gateway's own limits: ``base`` with every field ``overrides`` sets REPLACED.

    The gateway level is the operator's: it may loosen a default or switch a check off, where a
    tenant, account or key may only tighten (:func:`~kcgateway.risk.limits.resolve_limits`).
    """
    if overrides is None:
        return base
    changes = {name: getattr(overrides, name) for name in KINDS}
    return replace(base, **{k: v for k, v in changes.items() if v is not None})


def replace_deny(limits: Limits, deny: frozenset[str]) -> Limits:
    """``limits`` with ``symbol_deny`` set to ``deny``."""
    return replace(limits, symbol_deny=deny)
