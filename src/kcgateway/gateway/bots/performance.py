"""A bot's performance from its own fills: trades, fees, realized and unrealized P&L. Pure.

Average-cost accounting per symbol: a fill that adds to the position moves the average cost;
one that reduces it realizes ``(price - average cost) * size`` (the other way for a short). The
unrealized P&L marks what is left at ``last``. Fees are summed per currency and not netted
into the P&L (they may be paid in another currency). The same for paper and live.
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
class Performance:
    """A bot's report: per symbol its book, and the last price it was marked at."""

    bot_id: str
    mode: str
    symbols: dict[str, SymbolBook]
    last: dict[str, Decimal | None]
