"""A bot's performance from its own fills: trades, fees, realized and unrealized P&L. Pure.

Average-cost accounting per symbol: a fill that adds to the position moves the average cost;
one that reduces it realizes ``(price - average cost) * size`` (the other way for a short). The
unrealized P&L marks what is left at ``last``. Fees are summed per currency and not netted
into the P&L (they may be paid in another currency). The same for paper and live.

Equity over time (:func:`equity_curve`) is the bot's P&L since its first fill after each fill:
realized plus unrealized of every symbol, each marked at its latest fill price, less the fees
paid in each symbol's quote currency; a last point marks the positions at ``last``. The
maximum drawdown is the largest fall of that curve from a previous peak (the start, 0,
counts as a peak), in the quote currency.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class BotFill:
    """One fill of one of the bot's orders."""

    symbol: str
    side: str
    price: Decimal
    size: Decimal
    fee: Decimal
    fee_currency: str
    created_at: int


@dataclass
class SymbolBook:
    """Running position, average cost and realized P&L of one symbol."""

    position: Decimal = ZERO
    cost: Decimal = ZERO  # average entry price of the open position
    realized: Decimal = ZERO
    trades: int = 0
    fees: dict[str, Decimal] = field(default_factory=dict)

    def apply(self, fill: BotFill) -> None:
        """Move the book by one fill (oldest first)."""
        signed = fill.size if fill.side == "buy" else -fill.size
        self.trades += 1
        self.fees[fill.fee_currency] = self.fees.get(fill.fee_currency, ZERO) + fill.fee
        if self.position == 0 or (self.position > 0) == (signed > 0):
            total = self.position + signed
            self.cost = (self.cost * abs(self.position) + fill.price * fill.size) / abs(total)
            self.position = total
            return
        closed = min(abs(signed), abs(self.position))
        direction = 1 if self.position > 0 else -1
        self.realized += (fill.price - self.cost) * closed * direction
        rest = self.position + signed
        if rest == 0 or (rest > 0) == (self.position > 0):
            self.position = rest
            if rest == 0:
                self.cost = ZERO
        else:  # crossed through flat: the remainder opens at this price
            self.position, self.cost = rest, fill.price

    def unrealized(self, last: Decimal | None) -> Decimal | None:
        """The open position marked at ``last`` (None without a price)."""
        if self.position == 0:
            return ZERO
        if last is None:
            return None
        return (last - self.cost) * self.position


def books(fills: Iterable[BotFill]) -> dict[str, SymbolBook]:
    """Per-symbol books from the fills (any order: applied oldest first)."""
    out: dict[str, SymbolBook] = {}
    for fill in sorted(fills, key=lambda f: f.created_at):
        out.setdefault(fill.symbol, SymbolBook()).apply(fill)
    return out


@dataclass(frozen=True, slots=True)
class EquityPoint:
    """The bot's P&L (quote currency, net of quote fees) at ``at`` (ms)."""

    at: int
    equity: Decimal


def _quote(symbol: str) -> str:
    return symbol.rsplit("-", 1)[-1]


def _value(running: dict[str, SymbolBook], marks: dict[str, Decimal]) -> Decimal:
    total = ZERO
    for symbol, book in running.items():
        total += book.realized - book.fees.get(_quote(symbol), ZERO)
        total += book.unrealized(marks[symbol]) or ZERO
    return total


def equity_curve(
    fills: Iterable[BotFill], last: dict[str, Decimal | None], now_ms: int
) -> list[EquityPoint]:
    """The P&L after each fill (oldest first), then at ``now_ms`` marked at ``last``."""
    running: dict[str, SymbolBook] = {}
    marks: dict[str, Decimal] = {}
    points: list[EquityPoint] = []
    for fill in sorted(fills, key=lambda f: f.created_at):
        running.setdefault(fill.symbol, SymbolBook()).apply(fill)
        marks[fill.symbol] = fill.price
        points.append(EquityPoint(fill.created_at, _value(running, marks)))
    if points:
        for symbol, price in last.items():
            if price is not None and symbol in marks:
                marks[symbol] = price
        points.append(EquityPoint(max(now_ms, points[-1].at), _value(running, marks)))
    return points


def max_drawdown(points: Iterable[EquityPoint]) -> Decimal:
    """The largest fall from a running peak (starting at 0), >= 0."""
    peak, worst = ZERO, ZERO
    for point in points:
        peak = max(peak, point.equity)
        worst = max(worst, peak - point.equity)
    return worst


@dataclass(frozen=True, slots=True)
class Performance:
    """A bot's report: per-symbol books, their marks, its equity curve and maximum drawdown."""

    bot_id: str
    mode: str
    symbols: dict[str, SymbolBook]
    last: dict[str, Decimal | None]
    equity: list[EquityPoint] = field(default_factory=list)
    max_drawdown: Decimal = ZERO
