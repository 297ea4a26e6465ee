"""Checks 6 and 7: order rates and daily caps, and the duplicate guard.

Rates are counted over sliding windows ending now (``(now - 1 s, now]`` and
``(now - 60 s, now]``), per key and per account; an order over a rate is DENIED, never queued.
The duplicate guard refuses the same symbol, side, type, price, size and funds from the same
key within ``duplicate_window_ms``.
"""

from __future__ import annotations

from bisect import bisect_right

from kcgateway.risk import decision as codes
from kcgateway.risk.context import Context
from kcgateway.risk.numbers import plain, seconds

SECOND_MS = 1_000
MINUTE_MS = 60_000


def in_window(stamps: tuple[int, ...], now_ms: int, window_ms: int) -> int:
    """How many of the ascending ``stamps`` fall in ``(now - window, now]``."""
    return bisect_right(stamps, now_ms) - bisect_right(stamps, now_ms - window_ms)


def check_rates(ctx: Context) -> None:
    """Per-key and per-account rates per second and minute; daily order count and turnover."""
    lim, act = ctx.limits, ctx.fig.activity
    if not lim.check_rates or act is None:
        return
    now, order = ctx.now_ms, ctx.order
    keys, accounts = act.key_submissions_ms, act.account_submissions_ms
    k_end, a_end = bisect_right(keys, now), bisect_right(accounts, now)
    for sent, cap, who, unit in (
        (k_end - bisect_right(keys, now - SECOND_MS), lim.key_orders_per_second, "key", "second"),
        (k_end - bisect_right(keys, now - MINUTE_MS), lim.key_orders_per_minute, "key", "minute"),
        (a_end - bisect_right(accounts, now - SECOND_MS), lim.account_orders_per_second,
         "account", "second"),
        (a_end - bisect_right(accounts, now - MINUTE_MS), lim.account_orders_per_minute,
         "account", "minute"),
    ):  # fmt: skip
        if sent + 1 > cap:
            name = order.key_id if who == "key" else order.account_id
            ctx.fail(
                codes.RATE,
                f"{who} {name} sent {sent} orders in the last {unit}; the limit is {cap} per "
                f"{unit}",
            )
    if act.daily_order_count + 1 > lim.daily_orders:
        ctx.fail(
            codes.DAILY_ORDERS,
            f"account {order.account_id} sent {act.daily_order_count} orders today; the limit "
            f"is {lim.daily_orders} a day",
        )
    if ctx.notional is not None and act.daily_turnover + ctx.notional > lim.daily_turnover:
        ctx.fail(
            codes.DAILY_TURNOVER,
            f"today's turnover of account {order.account_id} would reach "
            f"{plain(act.daily_turnover + ctx.notional)}; the limit is "
            f"{plain(lim.daily_turnover)} a day",
        )


def check_duplicates(ctx: Context) -> None:
    """No identical order from the same key within the duplicate window."""
    lim, act, order = ctx.limits, ctx.fig.activity, ctx.order
    if not lim.check_duplicates or act is None:
        return
    since = ctx.now_ms - lim.duplicate_window_ms
    for seen in reversed(act.recent_orders):
        if seen.at_ms <= since:
            return
        if (
            seen.key_id == order.key_id
            and seen.symbol == order.symbol
            and seen.side is order.side
            and seen.order_type is order.order_type
            and seen.price == order.price
            and seen.size == order.size
            and seen.funds == order.funds
        ):
            what = f"{plain(order.size)} " if order.size is not None else ""
            at = f" at {plain(order.price)}" if order.price is not None else ""
            ctx.fail(
                codes.DUPLICATE,
                f"the same {order.side} of {what}{order.symbol}{at} came from key "
                f"{order.key_id} {seconds(ctx.now_ms - seen.at_ms)} ago; the window is "
                f"{seconds(lim.duplicate_window_ms)}: change the order or wait",
            )
            return
