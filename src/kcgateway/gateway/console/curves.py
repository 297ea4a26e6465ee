"""A bot's equity and drawdown curves from its own fills. Pure.

The equity curve is the bot's cumulative realized P&L (in the quote currency) after each of
its fills, oldest first, by the same average-cost books as its performance report
(:mod:`kcgateway.gateway.bots.performance`); the drawdown is how far that curve is below its
running peak (zero or negative). Open positions are not marked: no price history is kept, so
a curve point is what the bot had locked in at that moment, never a guess.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from kcgateway.gateway.bots.performance import BotFill, SymbolBook

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Point:
    """One point of a curve: milliseconds since the epoch, and the value then."""

    at_ms: int
    value: Decimal


def equity_curve(fills: Iterable[BotFill]) -> list[Point]:
    """Cumulative realized P&L after each fill (all symbols together), oldest first."""
    books: dict[str, SymbolBook] = {}
    out: list[Point] = []
    for fill in sorted(fills, key=lambda f: f.created_at):
        books.setdefault(fill.symbol, SymbolBook()).apply(fill)
        out.append(Point(fill.created_at, sum((b.realized for b in books.values()), ZERO)))
    return out


def drawdown(curve: Sequence[Point]) -> list[Point]:
    """How far each point is below the highest value so far (0 at a new high)."""
    peak = ZERO
    out = []
    for point in curve:
        peak = max(peak, point.value)
        out.append(Point(point.at_ms, point.value - peak))
    return out
