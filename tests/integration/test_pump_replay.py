"""Pump replay (issue 13, Tests): stolen gateway keys pump THIN-USDT (tests/integration/pump.py)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tests.integration.pump import replay


async def test_with_the_engine_off_the_pump_does_real_damage(tmp_path: Path) -> None:
    result = await replay(tmp_path)
    print(result.report("engine OFF"))
    report = result.report("engine OFF")
    # nothing stopped the stolen keys: each dumped its BTC and bought THIN at least twice
    assert all(v.accepted >= 3 for v in result.victims), report
    assert all(v.loss_pct > 10 for v in result.victims), report
    assert result.loss_pct > Decimal(20), report
