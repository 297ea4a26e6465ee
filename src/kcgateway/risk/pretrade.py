"""The full pre-trade check: :func:`evaluate` turns one order and its inputs into a Decision.

Order of work (every failed check is reported, not only the first):

1. a cancel passes at once; a malformed order is denied with ``risk.bad_order``;
2. freshness: each figure the enabled checks read is present, sane and within its bound,
   else ``risk.stale_data`` names it (fail closed);
3. the order is priced once (reference, estimated fill, quantity, notional, direction);
4. the price collar; a market order that breaks it and whose limits opt in is turned into an
   IOC limit at the collar and the whole check runs again on that order;
5. checks 3 to 7 (check 1, symbol allowed, runs before the collar);
6. drawdown (check 8) and the detector may call for a stricter state: the decision carries the
   state changes, and the order is judged against the strictest state of all levels.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from kcgateway.risk import decision as codes
from kcgateway.risk.checks import (
    check_collar,
    check_exposure,
    check_liquidity,
    check_notional,
    check_symbol,
)
from kcgateway.risk.context import Context, derive
from kcgateway.risk.decision import ActionKind, Decision, Failure, Signal, StateChange
from kcgateway.risk.detector import (
    as_recent,
    coordinated_buys,
    holdings_dump,
    holdings_value,
    key_signals,
    key_suspect,
    pump_buy,
)
from kcgateway.risk.drawdown import DrawdownVerdict, assess_drawdown, state_change
from kcgateway.risk.flow import check_duplicates, check_rates
from kcgateway.risk.freshness import Figures, Freshness, check_account, check_market, required
from kcgateway.risk.limits import Limits
from kcgateway.risk.model import (
    AccountView,
    CancelRequest,
    Level,
    MarketKind,
    MarketView,
    OrderType,
    ProposedOrder,
    RecentActivity,
    Side,
    TradingState,
    TradingStates,
)
from kcgateway.risk.numbers import plain

CANCEL = Decision(True, notes=("cancels always pass",))


def malformed(order: ProposedOrder) -> list[Failure]:
    """Shape problems that make an order impossible to price (``risk.bad_order``)."""
    bad: list[str] = []
    for name in ("price", "size", "funds", "leverage"):
        v = getattr(order, name)
        if v is not None and (not v.is_finite() or v <= 0):
            bad.append(f"{name} must be a positive number, not {v}")
    if order.order_type is OrderType.LIMIT:
        if order.price is None or order.size is None or order.funds is not None:
            bad.append("a limit order needs a price and a size, and no funds")
    elif (order.size is None) == (order.funds is None) or order.price is not None:
        bad.append("a market order needs a size or funds (one of them) and no price")
    if order.market is MarketKind.FUTURES and order.funds is not None:
        bad.append("a futures order is sized in lots, not funds")
    if order.reduce_only and order.market is not MarketKind.FUTURES:
        bad.append("reduce-only is a futures flag")
    return [Failure(codes.BAD_ORDER, b) for b in bad]


def evaluate(
    request: ProposedOrder | CancelRequest,
    *,
    market: MarketView,
    account: AccountView,
    activity: RecentActivity | None,
    limits: Limits,
    states: TradingStates,
    now_ms: int,
) -> Decision:
    """Allow or deny ``request``; see the module docstring. Pure: ``now_ms`` is passed in.

    Fails closed on its own errors too: an input it cannot compute with (a NaN inside a
    position, a malformed book level) denies with ``risk.internal_error`` naming the error's
    type, never with an exception the caller might mistake for a pass.
    """
    if isinstance(request, CancelRequest):
        return CANCEL
    try:
        return _evaluate(request, market, account, activity, limits, states, now_ms)
    except (ArithmeticError, TypeError, ValueError, AttributeError, LookupError) as exc:
        return Decision(False, (Failure(codes.INTERNAL_ERROR, _internal(exc)),), request)


def _internal(exc: Exception) -> str:
    # the type only: an exception's text may quote input values
    return f"the risk check could not be computed ({type(exc).__name__}); the order is refused"


def _evaluate(  # noqa: PLR0917 - the private twin of evaluate()
    order: ProposedOrder,
    market: MarketView,
    account: AccountView,
    activity: RecentActivity | None,
    limits: Limits,
    states: TradingStates,
    now_ms: int,
) -> Decision:
    problems = malformed(order)
    if problems:
        return Decision(False, tuple(problems), order)
    if not market.listed:  # not "stale data" eight times: the one thing to fix
        where = "futures contract" if order.market is MarketKind.FUTURES else "spot symbol"
        sentence = (
            f"{order.symbol} is not a {where} of the exchange (symbols are case-sensitive, "
            "e.g. BTC-USDT, XBTUSDTM): GET /v1/symbols or /v1/futures/symbols lists them"
        )
        return Decision(False, (Failure(codes.UNKNOWN_SYMBOL, sentence),), order)
    ctx = _context(
        order, market=market, account=account, activity=activity, limits=limits, now_ms=now_ms
    )
    derive(ctx)
    check_symbol(ctx)
    amended = check_collar(ctx)
    if amended is not None:
        inner = _evaluate(amended, market, account, activity, limits, states, now_ms)
        note = (
            f"market {order.side} turned into an IOC limit at {plain(amended.price or 0)}, the "
            "collar price"
        )
        return replace(inner, amended=True, notes=(note, *inner.notes))
    check_notional(ctx)
    check_exposure(ctx)
    check_liquidity(ctx)
    check_rates(ctx)
    check_duplicates(ctx)
    return _judge(ctx, states)


def _context(
    order: ProposedOrder,
    *,
    market: MarketView,
    account: AccountView,
    activity: RecentActivity | None,
    limits: Limits,
    now_ms: int,
) -> Context:
    need = required(limits)
    fresh = Freshness(limits, now_ms)
    fig = Figures()
    check_market(fresh, market, need, fig)
    check_account(fresh, account, activity, need, fig)
    if market.symbol != order.symbol:
        fresh.flag(f"the market data given is for {market.symbol}, not {order.symbol}")
        # nothing of another symbol's market may judge this order
        fig.rules = fig.bid = fig.ask = fig.last = fig.book = fig.volume = fig.baseline = None
        fig.rank = None
    if account.account_id != order.account_id:
        fresh.flag(f"the account data given is for {account.account_id}, not {order.account_id}")
        fig.positions = fig.open_orders = fig.balances = None
        fig.equity = fig.peak = fig.day_start = fig.activity = None
    return Context(order, fig, limits, now_ms, fresh.failures)


def _judge(ctx: Context, states: TradingStates) -> Decision:
    """Apply drawdown, the detector and the trading states; assemble the decision."""
    changes: list[StateChange] = []
    gate: list[Failure] = []
    state, level = states.strictest()
    if state is not TradingState.ACTIVE:
        _gate(ctx, gate, state, _target(ctx, level))
    verdict = _drawdown(ctx)
    change = (
        None if verdict is None else state_change(ctx.order.account_id, states.account, verdict)
    )
    if change is not None and verdict is not None:
        changes.append(change)
        target = _target(ctx, Level.ACCOUNT)
        _gate(
            ctx,
            gate,
            change.state,
            target,
            codes_=(verdict.code, verdict.code),
            why=verdict.reason,
        )
    signals = _signals(ctx)
    for signal in signals:
        for action in signal.actions:
            hit = _halt(ctx, action.kind, action.target)
            if hit is not None:
                changes.append(StateChange(hit, action.target, TradingState.HALTED, signal.message))
                gate.append(Failure(signal.code, signal.message))
    failures = (*gate, *ctx.failures)
    return Decision(
        not failures,
        _unique(failures),
        ctx.order,
        notional=ctx.notional,
        state_changes=tuple(changes),
        signals=signals,
    )


def _unique(failures: tuple[Failure, ...]) -> tuple[Failure, ...]:
    return tuple(dict.fromkeys(failures))


def _target(ctx: Context, level: Level) -> str:
    o = ctx.order
    return {
        Level.GATEWAY: "the gateway",
        Level.TENANT: f"tenant {o.tenant_id}",
        Level.ACCOUNT: f"account {o.account_id}",
        Level.KEY: f"key {o.key_id}",
    }[level]


def _gate(
    ctx: Context,
    out: list[Failure],
    state: TradingState,
    target: str,
    *,
    codes_: tuple[str, str] = (codes.HALTED, codes.REDUCING_ONLY),
    why: str = "",
) -> None:
    """Deny what ``state`` forbids: everything when HALTED, increases when REDUCING."""
    halted_code, reducing_code = codes_
    prefix = f"{why}: " if why else ""
    if state is TradingState.HALTED:
        out.append(Failure(halted_code, f"{prefix}{target} is halted; only cancels pass"))
    elif state is TradingState.REDUCING and ctx.increasing is not False:
        how = (
            "whether this order reduces exposure cannot be told without fresh positions"
            if ctx.increasing is None
            else f"this {ctx.order.side} of {ctx.order.symbol} would increase exposure"
        )
        out.append(Failure(reducing_code, f"{prefix}{target} may only reduce exposure, and {how}"))


def _drawdown(ctx: Context) -> DrawdownVerdict | None:
    f = ctx.fig
    if not ctx.limits.check_drawdown or f.equity is None or f.peak is None or f.day_start is None:
        return None
    return assess_drawdown(f.equity, f.peak, f.day_start, ctx.limits)


def _halt(ctx: Context, kind: ActionKind, target: str) -> Level | None:
    """The level a signal's action halts when it covers this order, else None."""
    if kind is ActionKind.HALT_ACCOUNT and target == ctx.order.account_id:
        return Level.ACCOUNT
    if kind is ActionKind.HALT_KEY and target == ctx.order.key_id:
        return Level.KEY
    return None


def _signals(ctx: Context) -> tuple[Signal, ...]:
    """The detector's signals about this order (empty when it is off or cannot run)."""
    f = ctx.fig
    act, positions, baseline, notional = f.activity, f.positions, f.baseline, ctx.notional
    if not ctx.limits.check_detector or act is None or notional is None:
        return ()
    if positions is None or baseline is None:
        return ()
    order, now, limits = ctx.order, ctx.now_ms, ctx.limits
    dump_side = order.side is Side.SELL and order.market is not MarketKind.FUTURES
    thin = ctx.thin and order.side is Side.BUY
    if not (dump_side or thin or key_suspect(act, limits, now)):
        return ()  # the common case: nothing to look at, no evidence to build
    mine = as_recent(order, notional, now)
    found = list(key_signals(mine, act, limits, now))
    if dump_side:
        held = holdings_value(positions)
        dump = holdings_dump(mine, act.recent_orders, held, limits, now)
        if dump is not None:
            found.append(dump)
    price = order.price if order.price is not None else _worst(ctx)
    if thin and price is not None:
        pump = pump_buy(mine, price, baseline, True, limits)
        if pump is not None:
            found.append(pump)
        symbols = frozenset((order.symbol,))
        found.extend(coordinated_buys((*act.symbol_buys, mine), symbols, limits, now))
    return tuple(found)


def _worst(ctx: Context) -> Decimal | None:
    return ctx.fill.worst if ctx.fill is not None else None
