from __future__ import annotations

import time

from kcgateway.clock import FakeClock, SystemClock


def test_system_clock_applies_offset() -> None:
    before = time.time_ns() // 1_000_000
    assert SystemClock(offset_ms=10_000).now_ms() >= before + 10_000
    assert SystemClock().monotonic() > 0


def test_fake_clock_moves_only_when_told() -> None:
    clock = FakeClock(now_ms=1_000)
    assert clock.now_ms() == 1_000
    clock.advance(250)
    assert clock.now_ms() == 1_250
    assert clock.monotonic() == 0.25
