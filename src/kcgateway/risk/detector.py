"""The stolen-key detector: pure functions over the order flow and the account's state.

The pattern it looks for is the 3Commas leak (2022) and Binance's VIA/BTC (2018): stolen
trade-only keys wake up, dump the victims' holdings at market, and buy a thin coin far above
its price while the thieves sell into it, from many accounts within minutes.

========================  ===============================================  ==================
signal                    fires when (default threshold, in Limits)        actions
========================  ===============================================  ==================
dormant_key               a key that went unused (no request at all) for    alert; with new_ip:
                          ``dormant_after_ms`` (7 days) since its last     halt the key
                          order trades (:mod:`~kcgateway.risk.key_use`)
new_ip                    a key trades from an address it never used        alert; with
                          (keys with no known address yet are exempt)       dormant_key: halt
                                                                           the key
holdings_dump             the account's spot and margin sells within        halt the account,
                          ``dump_window_ms`` (2 min) reach                  alert
                          ``dump_share_pct`` (80%) of its holdings
                          (holdings of at least ``dump_min_holdings``)
pump_buy                  a buy of a thin symbol at more than               halt the account,
                          ``pump_above_baseline_pct`` (10%) above its       alert
                          baseline (pre-burst) price
coordinated_buy           ``burst_accounts_tenant`` (3) accounts of one     halt every account
                          tenant, or ``burst_accounts_gateway`` (5) of      in it, block the
                          the gateway, buy the same thin symbol within      symbol gateway-wide,
                          ``burst_window_ms`` (2 min)                       alert
========================  ===============================================  ==================

"Thin" is the liquidity guard's definition: outside the top ``liquid_top_n`` by 24 h volume or
under ``min_volume_24h``. Every signal carries its evidence: the orders, the prices compared and
the times.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping, Sequence
from decimal import Decimal

from kcgateway.risk import decision as codes
from kcgateway.risk.decision import Action, ActionKind, Signal
from kcgateway.risk.limits import Limits
from kcgateway.risk.model import (
    ZERO,
    MarketKind,
    Position,
    ProposedOrder,
    RecentActivity,
    RecentOrder,
    Side,
)
from kcgateway.risk.numbers import percent, plain, seconds

HUNDRED = Decimal(100)
DAY_MS = 86_400_000
ALERT = Action(ActionKind.ALERT)


def as_recent(order: ProposedOrder, notional: Decimal, now_ms: int) -> RecentOrder:
    """The proposed order as a flow record (evidence and windows include it)."""
    return RecentOrder(
        order.tenant_id,
        order.account_id,
        order.key_id,
        order.symbol,
        order.side,
        order.order_type,
        order.price,
        order.size,
        order.funds,
        notional,
        now_ms,
        order.market,
    )


def key_suspect(activity: RecentActivity, limits: Limits, now_ms: int) -> bool:
    """True when :func:`key_signals` would find something (a cheap test, no evidence built)."""
    last, ip, known = activity.key_last_used_ms, activity.source_ip, activity.key_known_ips
    until = now_ms if activity.key_idle_until_ms is None else activity.key_idle_until_ms
    return (last is not None and until - last >= limits.dormant_after_ms) or (
        ip is not None and bool(known) and ip not in known
    )


def key_signals(
    order: RecentOrder, activity: RecentActivity, limits: Limits, now_ms: int
) -> tuple[Signal, ...]:
    """``dormant_key`` and ``new_ip`` for the key placing ``order``; both together halt it."""
    found: list[tuple[str, str, tuple[tuple[str, str], ...]]] = []
    last = activity.key_last_used_ms
    until = now_ms if activity.key_idle_until_ms is None else activity.key_idle_until_ms
    if last is not None and until - last >= limits.dormant_after_ms:
        idle = until - last
        found.append((
            codes.DORMANT_KEY,
            f"key {order.key_id} was unused for {_days(idle)} days and trades "
            f"again; the threshold is {plain(Decimal(limits.dormant_after_ms) / DAY_MS)} days",
            (("last used ms", str(last)), ("used again ms", str(until)), ("now ms", str(now_ms))),
        ))  # fmt: skip
    ip, known = activity.source_ip, activity.key_known_ips
    if ip is not None and known and ip not in known:
        found.append((
            codes.NEW_IP,
            f"key {order.key_id} trades from {ip}, an address it never used "
            f"(known: {', '.join(sorted(known))})",
            (("source ip", ip),),
        ))  # fmt: skip
    actions: tuple[Action, ...] = (ALERT,)
    if len(found) == 2:
        actions = (Action(ActionKind.HALT_KEY, order.key_id), ALERT)
    return tuple(Signal(code, msg, actions, (order,), figs) for code, msg, figs in found)


def _days(ms: int) -> str:
    """Days to one decimal, as a sentence says them (``8``, ``9.5``)."""
    return plain((Decimal(ms) / DAY_MS).quantize(Decimal("0.1")))


def holdings_value(positions: Mapping[str, Position]) -> Decimal:
    """The marked value of the assets the account holds on spot and margin (longs only)."""
    return sum(
        (
            p.notional
            for p in positions.values()
            if p.market is not MarketKind.FUTURES and p.quantity > 0
        ),
        ZERO,
    )


def holdings_dump(
    order: RecentOrder,
    recent: Sequence[RecentOrder],
    holdings_now: Decimal,
    limits: Limits,
    now_ms: int,
) -> Signal | None:
    """``holdings_dump``: the account's sells within the window reach the share threshold.

    The holdings at the window's start are the holdings now plus what the earlier sells in the
    window sold (they are assumed filled: a market dump fills at once). ``recent`` is in
    ascending time order.
    """
    if order.side is not Side.SELL or order.market is MarketKind.FUTURES:
        return None
    since = now_ms - limits.dump_window_ms
    account, sell, futures = order.account_id, Side.SELL, MarketKind.FUTURES
    before = ZERO
    for o in reversed(recent):  # oldest first: walk back from the newest to the window's start
        if o.at_ms <= since:
            break
        if o.side is sell and o.market is not futures and o.account_id == account:
            before += o.notional
    start = holdings_now + before
    if start < limits.dump_min_holdings or start <= 0:
        return None
    sold = before + order.notional
    share = sold / start * HUNDRED
    if share < limits.dump_share_pct:
        return None
    return Signal(
        codes.HOLDINGS_DUMP,
        f"account {order.account_id} would sell {plain(_cents(sold))} of its "
        f"{plain(_cents(start))} holdings ({percent(share)}) within "
        f"{seconds(limits.dump_window_ms)}; the threshold is {plain(limits.dump_share_pct)}%",
        (Action(ActionKind.HALT_ACCOUNT, order.account_id), ALERT),
        (*_sells(recent, order.account_id, since), order),
        (("sold", plain(_cents(sold))), ("holdings at start", plain(_cents(start)))),
    )


def _sells(recent: Sequence[RecentOrder], account: str, since: int) -> tuple[RecentOrder, ...]:
    """The evidence of a dump: the account's spot and margin sells since ``since``."""
    return tuple(
        o
        for o in recent
        if o.at_ms > since
        and o.side is Side.SELL
        and o.market is not MarketKind.FUTURES
        and o.account_id == account
    )


def pump_buy(
    order: RecentOrder, price: Decimal, baseline: Decimal, thin: bool, limits: Limits
) -> Signal | None:
    """``pump_buy``: a buy of a thin symbol at ``price`` far above its ``baseline``."""
    if order.side is not Side.BUY or not thin:
        return None
    above = (price - baseline) / baseline * HUNDRED
    if above <= limits.pump_above_baseline_pct:
        return None
    return Signal(
        codes.PUMP_BUY,
        f"account {order.account_id} buys thin {order.symbol} at {plain(price)}, "
        f"{percent(above)} above its baseline {plain(baseline)}; the threshold is "
        f"{plain(limits.pump_above_baseline_pct)}%",
        (Action(ActionKind.HALT_ACCOUNT, order.account_id), ALERT),
        (order,),
        (("price", plain(price)), ("baseline", plain(baseline))),
    )


def coordinated_buys(
    buys: Iterable[RecentOrder], thin_symbols: Container[str], limits: Limits, now_ms: int
) -> tuple[Signal, ...]:
    """``coordinated_buy``: many accounts buying one thin symbol within the window.

    ``buys`` may hold refused attempts too (the engine feeds both): going for the symbol is
    the evidence, whether or not the buy got through.

    Groups the buys of thin symbols within ``burst_window_ms`` by (tenant, symbol) and by
    symbol; a group with ``burst_accounts_tenant`` (resp. ``burst_accounts_gateway``) distinct
    accounts or more is a signal: halt every account in it, block the symbol, alert.
    """
    since = now_ms - limits.burst_window_ms
    by_tenant: dict[tuple[str, str], list[RecentOrder]] = {}
    by_symbol: dict[str, list[RecentOrder]] = {}
    for o in buys:
        if o.side is Side.BUY and o.at_ms > since and o.symbol in thin_symbols:
            by_tenant.setdefault((o.tenant_id, o.symbol), []).append(o)
            by_symbol.setdefault(o.symbol, []).append(o)
    found: list[Signal] = []
    wide: set[str] = set()
    for symbol, group in by_symbol.items():
        signal = _burst(symbol, "the gateway", group, limits.burst_accounts_gateway, limits)
        if signal is not None:
            wide.add(symbol)
            found.append(signal)
    for (tenant, symbol), group in by_tenant.items():
        if symbol in wide:
            continue
        signal = _burst(symbol, f"tenant {tenant}", group, limits.burst_accounts_tenant, limits)
        if signal is not None:
            found.append(signal)
    return tuple(found)


def _burst(
    symbol: str, scope: str, group: list[RecentOrder], threshold: int, limits: Limits
) -> Signal | None:
    accounts = sorted({o.account_id for o in group})
    if len(accounts) < threshold:
        return None
    first, last = min(o.at_ms for o in group), max(o.at_ms for o in group)
    halts = tuple(Action(ActionKind.HALT_ACCOUNT, a) for a in accounts)
    return Signal(
        codes.COORDINATED_BUY,
        f"{len(accounts)} accounts of {scope} bought (or tried to buy) thin {symbol} within "
        f"{seconds(last - first)}; the threshold is {threshold} accounts within "
        f"{seconds(limits.burst_window_ms)}",
        (*halts, Action(ActionKind.BLOCK_SYMBOL, symbol), ALERT),
        tuple(sorted(group, key=lambda o: o.at_ms)),
        (("symbol", symbol), ("accounts", ", ".join(accounts))),
    )


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01")) if abs(amount) < 10**20 else amount
