"""Pricing an order before it trades: reference prices, a walk of the book, notional value."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from kcgateway.risk.model import ZERO, Level2, ProposedOrder, Side, SymbolRules

TWO = Decimal(2)


@dataclass(frozen=True, slots=True)
class Fill:
    """What a market order would get from the book as it stands.

    ``quantity`` is in the order's size unit; ``cost`` is the sum of price x quantity over the
    levels taken (quote units for spot); ``worst`` is the last price touched; ``complete`` is
    False when the book ran out first.
    """

    quantity: Decimal
    cost: Decimal
    worst: Decimal
    complete: bool

    @property
    def average(self) -> Decimal:
        """The average price of the estimated fill."""
        return self.cost / self.quantity


def walk(levels: Level2, *, quantity: Decimal | None, funds: Decimal | None) -> Fill | None:
    """Take ``quantity`` (or, when it is None, spend ``funds``) from ``levels``, best first.

    None for an empty book.
    """
    if not levels:
        return None
    got = cost = ZERO
    worst = levels[0][0]
    for price, size in levels:
        worst = price
        if quantity is None:
            room = (funds or ZERO) - cost
            if size * price >= room:
                return Fill(got + room / price, cost + room, worst, True)
        elif size >= quantity - got:
            return Fill(quantity, cost + (quantity - got) * price, worst, True)
        got += size
        cost += size * price
    return Fill(got, cost, worst, False)


def sane_levels(levels: Level2, *, ascending: bool) -> bool:
    """True when every level has a positive price and size and the prices run best first."""
    previous: Decimal | None = None
    for price, size in levels:
        if not (price.is_finite() and size.is_finite() and price > 0 and size > 0):
            return False
        if previous is not None and (price < previous if ascending else price > previous):
            return False
        previous = price
    return True


def value(rules: SymbolRules, quantity: Decimal, price: Decimal) -> Decimal:
    """The quote value of ``quantity`` at ``price``: spot, linear or inverse futures."""
    if rules.inverse:
        return quantity * abs(rules.multiplier)
    return quantity * price * rules.multiplier


def reference(side: Side, price: Decimal | None, bid: Decimal, ask: Decimal) -> Decimal:
    """The collar's reference price.

    The mid for a resting limit order; the far side of the book (the ask for a buy, the bid for
    a sell) for an aggressive one, which is a limit order that crosses the spread or a market
    order.
    """
    if side is Side.BUY:
        return ask if price is None or price >= ask else (bid + ask) / TWO
    return bid if price is None or price <= bid else (bid + ask) / TWO


def market_fill(order: ProposedOrder, levels: Level2) -> Fill | None:
    """The estimated fill of a market order on the levels it takes."""
    return walk(levels, quantity=order.size, funds=order.funds)


def market_notional(order: ProposedOrder, rules: SymbolRules, fill: Fill) -> Decimal:
    """The estimated notional of a market order.

    A part the book cannot fill is priced at the worst level seen, so a thin book never makes
    an order look small.
    """
    if order.size is None:
        return order.funds or ZERO
    if rules.inverse:
        return order.size * abs(rules.multiplier)
    rest = order.size - fill.quantity
    return (fill.cost + rest * fill.worst) * rules.multiplier
