"""KuCoin's spot price protection (``priceLimitRate``), as its API docs and notices describe it.

When an order meets the book, KuCoin compares the price it would finally trade at with the best
opposite price. Beyond ``best * (1 + priceLimitRate)`` (buys) or ``best * (1 - rate)`` (sells):

* a limit order is refused (``400100`` here: the real code is not documented [?]);
* a market order trades up to that bound and the rest is cancelled.

Futures have no ``priceLimitRate`` in this engine (rate ``None`` disables the check).
"""

from __future__ import annotations

from decimal import Decimal

from kucoin_sim.engine.book import OrderBook
from kucoin_sim.engine.types import ONE, Order, Side


def bound(book: OrderBook, side: Side, rate: Decimal | None) -> Decimal | None:
    """The worst price an order of ``side`` may trade at now (None: no limit)."""
    if not rate:
        return None
    best = book.side(side.opposite).best()
    if best is None:
        return None
    return best.price * (ONE + rate) if side is Side.BUY else best.price * (ONE - rate)


def within(side: Side, price: Decimal, limit: Decimal | None) -> bool:
    """Whether trading at ``price`` respects ``limit``."""
    if limit is None:
        return True
    return price <= limit if side is Side.BUY else price >= limit


def breaches(book: OrderBook, order: Order, rate: Decimal | None) -> bool:
    """Whether a limit order would trade beyond the protection bound (KuCoin refuses it)."""
    limit = bound(book, order.side, rate)
    if limit is None or order.price is None:
        return False
    need = order.remaining
    for level in book.side(order.side.opposite):
        crosses = (
            level.price <= order.price if order.side is Side.BUY else level.price >= order.price
        )
        if not crosses:
            return False
        if not within(order.side, level.price, limit):
            return True
        need -= level.total()
        if need <= 0:
            return False
    return False
