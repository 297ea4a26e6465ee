"""One evaluation's working set: the inputs, the good figures, and the order priced once.

:func:`derive` works out, from the figures that passed the freshness check, the reference
price, the estimated fill of a market order, the order's quantity and notional, the position
it changes and whether it increases exposure. Anything it cannot work out stays ``None``, and
the checks that need it are skipped (the stale-data failure has already denied the order).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from kcgateway.risk.decision import Failure
from kcgateway.risk.freshness import Figure
from kcgateway.risk.limits import Limits
from kcgateway.risk.model import (
    ZERO,
    AccountView,
    MarketKind,
    MarketView,
    OpenOrder,
    OrderType,
    ProposedOrder,
    RecentActivity,
    Side,
    SymbolRules,
)
from kcgateway.risk.pricing import Fill, market_fill, market_notional, reference, value

F = Figure


@dataclass(slots=True)
class Context:
    """Inputs and derived figures of one pre-trade check."""

    order: ProposedOrder
    market: MarketView
    account: AccountView
    activity: RecentActivity | None
    limits: Limits
    now_ms: int
    ok: set[Figure]
    failures: list[Failure] = field(default_factory=list)
    rules: SymbolRules | None = None
    bid: Decimal | None = None
    ask: Decimal | None = None
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

    def good(self, *figures: Figure) -> bool:
        """True when every one of ``figures`` was checked and found present, sane and fresh."""
        return self.ok.issuperset(figures)


def derive(ctx: Context) -> None:
    """Price the order and place it against the account, as far as the good figures allow."""
    ctx.thin = is_thin(ctx)
    if not ctx.good(F.RULES, F.BEST_BID, F.BEST_ASK):
        return
    m, order = ctx.market, ctx.order
    assert m.rules is not None and m.best_bid is not None and m.best_ask is not None  # noqa: S101
    rules = ctx.rules = m.rules.value
    ctx.bid, ctx.ask = m.best_bid.value, m.best_ask.value
    ctx.ref = reference(order.side, order.price, ctx.bid, ctx.ask)
    if order.order_type is OrderType.LIMIT:
        assert order.price is not None and order.size is not None  # noqa: S101
        ctx.quantity = order.size
        ctx.notional = value(rules, order.size, order.price)
    elif ctx.good(F.BOOK):
        assert m.book is not None  # noqa: S101
        book = m.book.value
        fill = ctx.fill = market_fill(order, book.asks if order.side is Side.BUY else book.bids)
        if fill is not None:
            ctx.quantity = order.size if order.size is not None else fill.quantity
            ctx.notional = market_notional(order, rules, fill)
    ctx.exposure_key = order.symbol if order.market is MarketKind.FUTURES else rules.base
    if ctx.good(F.POSITIONS, F.OPEN_ORDERS):
        assert ctx.account.positions is not None and ctx.account.open_orders is not None  # noqa: S101
        held = ctx.account.positions.value.get(ctx.exposure_key)
        ctx.position = held.quantity if held is not None else ZERO
        ctx.open_orders = ctx.account.open_orders.value
        ctx.increasing = increases(ctx)


def is_thin(ctx: Context) -> bool | None:
    """True when the symbol is outside the top-N by volume or under the volume floor."""
    if not ctx.good(F.VOLUME_24H, F.VOLUME_RANK):
        return None
    assert ctx.market.volume_24h is not None and ctx.market.volume_rank is not None  # noqa: S101
    lim = ctx.limits
    return (
        ctx.market.volume_rank.value > lim.liquid_top_n
        or ctx.market.volume_24h.value < lim.min_volume_24h
    )


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
