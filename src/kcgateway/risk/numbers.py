"""Plain number formatting for the sentences of a decision: no exponents, thousands separated.

``plain(Decimal("75000.00")) == "75,000"``; ``percent(Decimal("12.04")) == "12.0%"``;
``seconds(7_250) == "7.2 s"``.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation


def plain(value: Decimal | int) -> str:
    """``value`` with thousands separators, no exponent and no trailing zeros."""
    return format(Decimal(value).normalize(), ",f")


def percent(value: Decimal) -> str:
    """A measured percentage with one decimal: ``12.0%``."""
    return f"{value:,.1f}%"


def seconds(ms: int) -> str:
    """A duration in seconds with one decimal: ``7.2 s``."""
    return f"{ms / 1000:,.1f} s"


def floor_to(value: Decimal, step: Decimal) -> Decimal:
    """``value`` rounded down to a multiple of ``step`` (``step`` > 0)."""
    return (value / step).to_integral_value(ROUND_FLOOR) * step


def ceil_to(value: Decimal, step: Decimal) -> Decimal:
    """``value`` rounded up to a multiple of ``step`` (``step`` > 0)."""
    return (value / step).to_integral_value(ROUND_CEILING) * step


def display_price(value: Decimal, step: Decimal) -> str:
    """A computed price (a mid, an average) shown to the symbol's tick, plainly."""
    try:
        return plain(value.quantize(step))
    except InvalidOperation:  # too many digits for the tick (or a zero tick): show it as is
        return plain(value)
