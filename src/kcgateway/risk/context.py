"""One evaluation's working set: the inputs, the good figures, and the order priced once.

:func:`derive` works out, from the figures that passed the freshness check, the reference
price, the estimated fill of a market order, the order's quantity and notional, the position
it changes and whether it increases exposure. Anything it cannot work out stays ``None``, and
the checks that need it are skipped (the stale-data failure has already denied the order).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from kcgateway.risk.decision import STALE_DATA, Failure
from kcgateway.risk.freshness import Figures
from kcgateway.risk.limits import Limits
from kcgateway.risk.model import (
    ZERO,
    MarketKind,
    OpenOrder,
    OrderType,
    ProposedOrder,
    Side,
)
from kcgateway.risk.pricing import (
    Fill,
    market_fill,
    market_notional,
    reference,
    sane_levels,
    value,
)


@dataclass(slots=True)
class Context:
    """Inputs and derived figures of one pre-trade check. ``fig`` holds the good figures."""

    order: ProposedOrder
    fig: Figures
    limits: Limits
    now_ms: int
    failures: list[Failure] = field(default_factory=list)
    ref: Decimal | None = None
    fill: Fill | None = None
    quantity: Decimal | None = None
    notional: Decimal | None = None
    exposure_key: str | None = None
    position: Decimal = ZERO
    open_orders: tuple[OpenOrder, ...] = ()
    increasing: bool | None = None
    thin: bool | None = None  #: outside the top-N by volume or under the floor (None: unknown)

    def fail(self, code: str, message: str) -> None:
        """Record one failed check."""
        self.failures.append(Failure(code, message))


def derive(ctx: Context) -> None:
    """Price the order and place it against the account, as far as the good figures allow."""
    f, order = ctx.fig, ctx.order
    ctx.thin = is_thin(ctx)
    rules, bid, ask = f.rules, f.bid, f.ask
    if rules is None or bid is None or ask is None:
        return
    ctx.ref = reference(order.side, order.price, bid, ask)
    price, size = order.price, order.size
    if price is not None and size is not None:  # a limit order (a market order has no price)
        ctx.quantity = size
        ctx.notional = value(rules, size, price)
    elif order.order_type is OrderType.MARKET and f.book is not None:
        buy = order.side is Side.BUY
        levels = f.book.asks if buy else f.book.bids
        if not sane_levels(levels, ascending=buy):  # checked here: only market orders walk it
            ctx.fail(
                STALE_DATA,
                f"the order book of {order.symbol} is not sane (a level that is not a positive "
                "price and size, or out of order)",
            )
            f.book = None
        else:
            fill = ctx.fill = market_fill(order, levels)
            if fill is not None:
                ctx.quantity = size if size is not None else fill.quantity
                ctx.notional = market_notional(order, rules, fill)
    key = ctx.exposure_key = order.symbol if order.market is MarketKind.FUTURES else rules.base
    if f.positions is not None and f.open_orders is not None:
        held = f.positions.get(key)
        ctx.position = held.quantity if held is not None else ZERO
        ctx.open_orders = f.open_orders
        ctx.increasing = increases(ctx)


def is_thin(ctx: Context) -> bool | None:
    """True when the symbol is outside the top-N by volume or under the volume floor."""
    volume, rank = ctx.fig.volume, ctx.fig.rank
    if volume is None or rank is None:
        return None
    return rank > ctx.limits.liquid_top_n or volume < ctx.limits.min_volume_24h


def increases(ctx: Context) -> bool:
    """Whether the order may increase exposure.

    - spot: a buy increases, a sell reduces (spot cannot go short: the exchange refuses a
      sell of more than is held);
    - futures with ``reduce_only``: reduces (the exchange enforces it);
    - a margin or futures order sized by funds: increases (its quantity is not fixed);
    - otherwise it reduces only when it trades against the position and, together with the
      open orders on the same side, it cannot take the position past zero.
    """
    order = ctx.order
    if order.market is MarketKind.SPOT:
        return order.side is Side.BUY
    if order.market is MarketKind.FUTURES and order.reduce_only:
        return False
    if order.size is None:
        return True
    pos = ctx.position
    if pos == 0 or (pos > 0) == (order.side is Side.BUY):
        return True
    pending = sum(
        (
            o.quantity
            for o in ctx.open_orders
            if o.exposure_key == ctx.exposure_key and o.side is order.side
        ),
        ZERO,
    )
    return order.size + pending > abs(pos)
