"""Check 8: drawdown of marked-to-market equity, from its peak and since the start of the day.

Equity is marked to market from balances, positions and open orders (:func:`mark_equity`).
Crossing ``drawdown_reducing_pct`` below the peak or ``daily_loss_reducing_pct`` below the
start-of-day equity moves the account to REDUCING; crossing the ``*_halt_pct`` bounds moves it to
HALTED. :func:`assess_drawdown` is what the engine calls on every equity update (so the move
happens within one update, not at the next order); the pre-trade check calls it too and denies
the order when the new state forbids it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from kcgateway.risk import decision as codes
from kcgateway.risk.decision import StateChange
from kcgateway.risk.limits import Limits
from kcgateway.risk.model import ZERO, Level, TradingState
from kcgateway.risk.numbers import percent, plain

HUNDRED = Decimal(100)


def mark_equity(
    balances: Mapping[str, Decimal],
    prices: Mapping[str, Decimal],
    unrealised_pnl: Decimal = ZERO,
) -> Decimal | None:
    """Equity in the quote currency: every balance at its price, plus futures unrealised PnL.

    ``balances`` are total quantities (free and held by open orders, net of liabilities);
    ``prices`` give each currency's value in the quote currency (1 for the quote itself).
    None when a non-zero balance has no price: equity cannot be told, and the caller must not
    make one up.
    """
    total = unrealised_pnl
    for currency, amount in balances.items():
        if amount == 0:
            continue
        price = prices.get(currency)
        if price is None:
            return None
        total += amount * price
    return total


@dataclass(frozen=True, slots=True)
class DrawdownVerdict:
    """The state the account's drawdown calls for, and why (empty when ACTIVE)."""

    state: TradingState
    code: str = ""
    reason: str = ""


ACTIVE = DrawdownVerdict(TradingState.ACTIVE)


def assess_drawdown(
    equity: Decimal, peak: Decimal, day_start: Decimal, limits: Limits
) -> DrawdownVerdict:
    """The state the equity calls for: ACTIVE, REDUCING or HALTED, the strictest bound wins."""
    if not limits.check_drawdown:
        return ACTIVE
    if (peak - equity) * HUNDRED < limits.drawdown_reducing_pct * peak and (
        day_start - equity
    ) * HUNDRED < limits.daily_loss_reducing_pct * day_start:
        return ACTIVE  # the common case, without a division
    from_peak = (peak - equity) / peak * HUNDRED
    today = (day_start - equity) / day_start * HUNDRED
    found = ACTIVE
    for loss, base, what, code, reducing, halt in (
        (from_peak, peak, "its peak", codes.DRAWDOWN, limits.drawdown_reducing_pct,
         limits.drawdown_halt_pct),
        (today, day_start, "the start of the day", codes.DAILY_LOSS,
         limits.daily_loss_reducing_pct, limits.daily_loss_halt_pct),
    ):  # fmt: skip
        if loss >= halt:
            state = TradingState.HALTED
            bound = halt
        elif loss >= reducing:
            state = TradingState.REDUCING
            bound = reducing
        else:
            continue
        if state.rank > found.state.rank:
            found = DrawdownVerdict(
                state,
                code,
                f"equity {plain(equity)} is {percent(loss)} below {what} {plain(base)}; the "
                f"{state.value} bound is {plain(bound)}%",
            )
    return found


def state_change(
    account_id: str, current: TradingState, verdict: DrawdownVerdict
) -> StateChange | None:
    """The move the verdict calls for when it is stricter than ``current``, else None."""
    if verdict.state.rank <= current.rank:
        return None
    return StateChange(Level.ACCOUNT, account_id, verdict.state, verdict.reason)
