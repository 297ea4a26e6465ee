"""Balance events refresh an account at most once per gap, and never leave a change unseen."""

from __future__ import annotations

import asyncio
from typing import Any

from kcgateway.gateway.risk_engine import RiskEngine
from kcgateway.risk import Limits, TradingStates


class Kicks:
    """Stands in for AccountData: counts refresh requests."""

    def __init__(self) -> None:
        self.kicks: list[float] = []

    def kick(self, account_id: str) -> None:
        self.kicks.append(asyncio.get_running_loop().time())

    async def flush(self) -> None:
        return None


def _engine(accounts: Any, gap_s: float) -> RiskEngine:
    return RiskEngine(
        market=None,  # type: ignore[arg-type]
        accounts=accounts,
        activity=None,  # type: ignore[arg-type]
        states_for=lambda t, a, k: TradingStates(),
        limits_for=lambda t, a, k: Limits(),
        balance_gap_s=gap_s,
    )


async def test_a_burst_of_balance_events_refreshes_twice_not_once_per_event() -> None:
    accounts = Kicks()
    engine = _engine(accounts, gap_s=0.3)
    for _ in range(200):  # a busy bot: two balance events per order
        engine.on_balance_event("a1")
    assert len(accounts.kicks) == 1, "the first event refreshes at once"
    await asyncio.sleep(1.0)  # generous on a loaded machine
    assert len(accounts.kicks) == 2, "the events inside the gap: one refresh at its end"
    assert accounts.kicks[1] - accounts.kicks[0] >= 0.29
    engine.on_balance_event("a1")  # after the gap: at once again
    assert len(accounts.kicks) == 3
    await engine.aclose()


async def test_accounts_are_throttled_separately() -> None:
    accounts = Kicks()
    engine = _engine(accounts, gap_s=10.0)
    engine.on_balance_event("a1")
    engine.on_balance_event("a2")
    engine.on_balance_event("a1")
    assert len(accounts.kicks) == 2
    await engine.aclose()  # the scheduled refresh of a1 is dropped with the engine
    assert not engine._kick_later
