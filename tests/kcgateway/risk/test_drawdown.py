"""Check 8: drawdown from the peak and since the start of the day moves the account."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kcgateway.risk import (
    Level,
    Limits,
    ProposedOrder,
    Side,
    StateChange,
    TradingState,
    TradingStates,
    assess_drawdown,
    mark_equity,
)
from tests.kcgateway.risk.builders import account, check, order, st

D = Decimal
R, H, A = TradingState.REDUCING, TradingState.HALTED, TradingState.ACTIVE


def test_mark_equity() -> None:
    balances = {"USDT": D(1000), "BTC": D("0.5"), "DUST": D(0)}
    assert mark_equity(balances, {"USDT": D(1), "BTC": D(60000)}) == D(31000)
    assert mark_equity(balances, {"USDT": D(1), "BTC": D(60000)}, D(-500)) == D(30500)
    assert mark_equity(balances, {"USDT": D(1)}) is None  # an unpriced holding: cannot tell


@pytest.mark.parametrize(
    ("equity", "peak", "day", "state", "code"),
    [
        (D(90), D(100), D(90), A, ""),
        (D(85), D(100), D(85), R, "risk.drawdown"),  # exactly at the 15% bound
        (D(75), D(100), D(75), H, "risk.drawdown"),
        (D(95), D(100), D(100), R, "risk.daily_loss"),  # 5% today
        (D(90), D(100), D(100), H, "risk.daily_loss"),
        (D(80), D(100), D(82), R, "risk.drawdown"),
        (D(84), D(100), D(90), R, "risk.drawdown"),  # both reduce: the peak is reported first
    ],
)
def test_assess_drawdown(
    equity: Decimal, peak: Decimal, day: Decimal, state: TradingState, code: str
) -> None:
    verdict = assess_drawdown(equity, peak, day, Limits())
    assert verdict.state is state
    assert verdict.code == code


def test_assess_drawdown_sentence_and_off() -> None:
    verdict = assess_drawdown(D(80_000), D(100_000), D(80_000), Limits())
    assert verdict.reason == (
        "equity 80,000 is 20.0% below its peak 100,000; the reducing bound is 15%"
    )
    assert assess_drawdown(D(1), D(100), D(100), Limits(check_drawdown=False)).state is A


def test_drawdown_moves_the_account_to_reducing_and_denies_increases() -> None:
    a = account(equity=st(D(66_000)), peak_equity=st(D(80_000)), day_start_equity=st(D(66_000)))
    d = check(a=a)
    reason = "equity 66,000 is 17.5% below its peak 80,000; the reducing bound is 15%"
    assert d.codes == ("risk.drawdown",)
    assert d.state_changes == (StateChange(Level.ACCOUNT, "acc1", R, reason),)
    assert d.explain() == (
        f"risk.drawdown: {reason}: account acc1 may only reduce exposure, and this buy of "
        "BTC-USDT would increase exposure"
    )
    sell = check(order_sell(), a=a)
    assert sell.allowed
    assert sell.state_changes[0].state is R  # the move is reported even when the order passes


def order_sell() -> ProposedOrder:
    return order(side=Side.SELL)


def test_daily_loss_halts() -> None:
    a = account(equity=st(D(75_000)), peak_equity=st(D(85_000)), day_start_equity=st(D(84_000)))
    d = check(order_sell(), a=a)
    assert d.codes == ("risk.daily_loss",)
    assert d.state_changes[0].state is H
    assert "account acc1 is halted; only cancels pass" in d.explain()


def test_no_change_when_the_account_is_already_as_strict() -> None:
    a = account(equity=st(D(66_000)), peak_equity=st(D(80_000)), day_start_equity=st(D(66_000)))
    d = check(order_sell(), a=a, states=TradingStates(account=R))
    assert d.allowed and d.state_changes == ()
