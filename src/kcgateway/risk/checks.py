"""Checks 1 to 5: symbol allowed, price collar, notional, position and exposure, liquidity.

Each check reads a :class:`~kcgateway.risk.context.Context`, records what fails, and is skipped
when it is switched off or a figure it reads is bad (stale data already denies the order).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal

from kcgateway.risk import decision as codes
from kcgateway.risk.context import Context
from kcgateway.risk.limits import Limits
from kcgateway.risk.model import ZERO, OrderType, Position, ProposedOrder, Side, SymbolRules
from kcgateway.risk.numbers import ceil_to, display_price, floor_to, percent, plain
from kcgateway.risk.pricing import value

HUNDRED = Decimal(100)


# 1. symbol allowed -------------------------------------------------------------------------


def check_symbol(ctx: Context) -> None:
    """The symbol is not denied, is on the allow-list when there is one, and is tradable."""
    lim, sym = ctx.limits, ctx.order.symbol
    if not lim.check_symbol:
        return
    if sym in lim.symbol_deny:
        ctx.fail(codes.SYMBOL_DENIED, f"{sym} is on the deny-list")
    elif lim.symbol_allow is not None and sym not in lim.symbol_allow:
        ctx.fail(codes.SYMBOL_DENIED, f"{sym} is not on the allow-list of this account")
    if ctx.fig.rules is not None and not ctx.fig.rules.tradable:
        ctx.fail(codes.SYMBOL_NOT_TRADABLE, f"the exchange does not trade {sym} at the moment")


# 2. price collar -------------------------------------------------------------------------


def collar_pct(limits: Limits, rules: SymbolRules) -> Decimal:
    """The collar in percent: the limit, never wider than KuCoin's ``priceLimitRate``."""
    pct = limits.price_collar_pct
    rate = rules.price_limit_rate
    if rate is not None and rate > 0:
        pct = min(pct, rate * HUNDRED)
    return pct


def deviation(side: Side, price: Decimal, ref: Decimal) -> Decimal:
    """How far ``price`` is on the harmful side of ``ref``, in percent (negative: harmless)."""
    diff = price - ref if side is Side.BUY else ref - price
    return diff / ref * HUNDRED


def _direction(side: Side) -> str:
    return "above" if side is Side.BUY else "below"


def check_collar(ctx: Context) -> ProposedOrder | None:
    """A limit price, or a market order's estimated worst fill, within the collar.

    Only the harmful side counts: a buy above the reference, a sell below it. Returns the
    amended order when a market order breaks the collar and ``market_to_ioc`` is set.
    """
    rules, ref = ctx.fig.rules, ctx.ref
    if not ctx.limits.check_price_collar or ref is None or rules is None:
        return None
    order, limit, tick = ctx.order, collar_pct(ctx.limits, rules), rules.price_increment
    if order.price is not None:  # a limit order
        dev = deviation(order.side, order.price, ref)
        if dev > limit:
            ctx.fail(
                codes.PRICE_COLLAR,
                f"{order.side} at {plain(order.price)} is {percent(dev)} {_direction(order.side)}"
                f" the reference {display_price(ref, tick)}; the limit is {plain(limit)}%",
            )
        return None
    if ctx.fig.book is None:
        return None
    problem = _market_problem(ctx, ref, limit, tick)
    if problem is None:
        return None
    if ctx.limits.market_to_ioc:
        amended = to_ioc(order, rules, ref, limit)
        if amended is not None:
            return amended
    ctx.fail(*problem)
    return None


def _market_problem(
    ctx: Context, ref: Decimal, limit: Decimal, tick: Decimal
) -> tuple[str, str] | None:
    order, fill = ctx.order, ctx.fill
    side = "asks" if order.side is Side.BUY else "bids"
    if fill is None:
        return codes.BOOK_DEPTH, f"the {side} of {order.symbol} are empty"
    if not fill.complete:
        want = plain(order.size) if order.size is not None else plain(order.funds or ZERO)
        got = plain(fill.quantity) if order.size is not None else plain(fill.cost)
        what = "to trade" if order.size is not None else "to spend"
        return codes.BOOK_DEPTH, f"the {side} of {order.symbol} hold {got} of the {want} {what}"
    dev = deviation(order.side, fill.worst, ref)
    if dev <= limit:
        return None
    return codes.PRICE_COLLAR, (
        f"market {order.side} would fill up to {plain(fill.worst)} (average "
        f"{display_price(fill.average, tick)}), {percent(dev)} {_direction(order.side)} the "
        f"reference {display_price(ref, tick)}; the limit is {plain(limit)}%"
    )


def to_ioc(
    order: ProposedOrder, rules: SymbolRules, ref: Decimal, limit: Decimal
) -> ProposedOrder | None:
    """The market order as an IOC limit at the collar price; None if it rounds to nothing."""
    if order.side is Side.BUY:
        price = floor_to(ref * (HUNDRED + limit) / HUNDRED, rules.price_increment)
    else:
        price = ceil_to(ref * (HUNDRED - limit) / HUNDRED, rules.price_increment)
    size = order.size
    if size is None and price > 0:
        size = floor_to((order.funds or ZERO) / price, rules.size_increment)
    if price <= 0 or size is None or size <= 0:
        return None
    return replace(
        order, order_type=OrderType.LIMIT, price=price, size=size, funds=None, time_in_force="IOC"
    )


# 3. notional per order -------------------------------------------------------------------


def check_notional(ctx: Context) -> None:
    """The order's (estimated) notional is at most ``max_order_notional``."""
    lim = ctx.limits
    if not lim.check_notional or ctx.notional is None:
        return
    if ctx.notional > lim.max_order_notional:
        est = "estimated " if ctx.order.order_type is OrderType.MARKET else ""
        ctx.fail(
            codes.MAX_NOTIONAL,
            f"the {est}notional {plain(ctx.notional)} exceeds the per-order maximum "
            f"{plain(lim.max_order_notional)}",
        )


# 4. position and exposure ----------------------------------------------------------------


def check_exposure(ctx: Context) -> None:
    """Open-order count, and the exposure of an order that increases it.

    For such an order: the projected net position, the symbol's gross exposure and the
    account's gross exposure, each counting the open orders.
    """
    lim = ctx.limits
    if not lim.check_exposure or ctx.fig.positions is None or ctx.fig.open_orders is None:
        return
    count = len(ctx.open_orders)
    if count + 1 > lim.max_open_orders:
        ctx.fail(
            codes.MAX_OPEN_ORDERS,
            f"account {ctx.order.account_id} has {count} open orders; the limit is "
            f"{lim.max_open_orders}",
        )
    rules, mark, positions = ctx.fig.rules, ctx.fig.last, ctx.fig.positions
    quantity, notional = ctx.quantity, ctx.notional
    if not ctx.increasing or notional is None or quantity is None:
        return
    if rules is None or mark is None:
        return
    _check_position(
        ctx, rules=rules, mark=mark, positions=positions, quantity=quantity, notional=notional
    )


def _check_position(
    ctx: Context,
    *,
    rules: SymbolRules,
    mark: Decimal,
    positions: Mapping[str, Position],
    quantity: Decimal,
    notional: Decimal,
) -> None:
    lim, order, key = ctx.limits, ctx.order, ctx.exposure_key
    buy = order.side is Side.BUY
    same = ZERO
    key_open = ZERO
    all_open = ZERO
    for o in ctx.open_orders:
        all_open += o.notional
        if o.exposure_key == key:
            key_open += o.notional
            if (o.side is Side.BUY) == buy:
                same += o.quantity
    delta = same + quantity
    projected = ctx.position + (delta if buy else -delta)
    net = value(rules, abs(projected), mark)
    if net > lim.max_symbol_position:
        ctx.fail(
            codes.MAX_POSITION,
            f"the {key} position would reach {plain(_round(net))} counting open orders; the "
            f"limit is {plain(lim.max_symbol_position)}",
        )
    held = value(rules, abs(ctx.position), mark)
    gross = held + key_open + notional
    if gross > lim.max_symbol_gross:
        ctx.fail(
            codes.SYMBOL_EXPOSURE,
            f"the gross {key} exposure would reach {plain(_round(gross))} (position "
            f"{plain(_round(held))}, open orders {plain(_round(key_open))}, this order "
            f"{plain(_round(notional))}); the limit is {plain(lim.max_symbol_gross)}",
        )
    total = sum((abs(p.notional) for p in positions.values()), ZERO) + all_open + notional
    if total > lim.max_account_gross:
        ctx.fail(
            codes.ACCOUNT_EXPOSURE,
            f"the gross exposure of account {order.account_id} would reach "
            f"{plain(_round(total))}; the limit is {plain(lim.max_account_gross)}",
        )


def _round(amount: Decimal) -> Decimal:
    """An amount shown to two decimals in a sentence."""
    return amount.quantize(Decimal("0.01")) if abs(amount) < 10**20 else amount


# 5. liquidity guard ----------------------------------------------------------------------


def check_liquidity(ctx: Context) -> None:
    """The order is a small share of the 24 h volume; thin symbols need allow-listing to buy.

    The thin-symbol rule applies to orders that increase exposure only: selling a thin holding
    stays possible (the collar still protects its price).
    """
    lim, order = ctx.limits, ctx.order
    thin, volume, rank = ctx.thin, ctx.fig.volume, ctx.fig.rank
    if not lim.check_liquidity or thin is None or volume is None or rank is None:
        return
    if ctx.notional is not None:
        share = ctx.notional / volume * HUNDRED if volume > 0 else None
        if share is None or share > lim.max_volume_share_pct:
            shown = "more than all" if share is None else percent(share)
            ctx.fail(
                codes.VOLUME_SHARE,
                f"the notional {plain(_round(ctx.notional))} is {shown} of the 24 h volume "
                f"{plain(volume)} of {order.symbol}; the limit is "
                f"{plain(lim.max_volume_share_pct)}%",
            )
    if thin and ctx.increasing is not False and order.symbol not in lim.thin_symbol_allow:
        ctx.fail(
            codes.THIN_SYMBOL,
            f"{order.symbol} is thinly traded (24 h volume {plain(volume)}, rank {rank}; the "
            f"floor is {plain(lim.min_volume_24h)} and the top {lim.liquid_top_n}): add it to "
            "the thin-symbol allow-list to trade it",
        )
