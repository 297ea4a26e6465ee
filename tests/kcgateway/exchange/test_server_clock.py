"""ServerClock: midpoint offset, lazy refresh, single flight."""

from __future__ import annotations

import asyncio

from kcgateway.clock import FakeClock
from kcgateway.exchange.server_clock import ServerClock


async def test_offset_is_server_minus_rtt_midpoint() -> None:
    local = FakeClock(1_000_000)
    clock = ServerClock(local)
    assert clock.stale() and not clock.synced

    async def fetch() -> int:
        local.advance(100)  # 100 ms round trip
        return 1_030_000  # server is 30 s ahead of the midpoint minus 50 ms

    offset = await clock.resync(fetch)
    assert offset == 1_030_000 - (1_000_000 + 1_000_100) // 2
    assert clock.now_ms() == local.now_ms() + offset
    assert clock.synced and not clock.stale()
    assert clock.monotonic() == local.monotonic()


async def test_refresh_after_interval_only() -> None:
    local = FakeClock(0)
    clock = ServerClock(local, refresh_s=60)
    calls = 0

    async def fetch() -> int:
        nonlocal calls
        calls += 1
        return local.now_ms() - 5_000

    await clock.ensure_fresh(fetch)
    await clock.ensure_fresh(fetch)
    assert calls == 1
    assert clock.offset_ms == -5_000
    local.advance(60_000)
    assert clock.stale()
    await clock.ensure_fresh(fetch)
    assert calls == 2


async def test_concurrent_callers_share_one_measurement() -> None:
    local = FakeClock(0)
    clock = ServerClock(local)
    calls = 0
    gate = asyncio.Event()

    async def fetch() -> int:
        nonlocal calls
        calls += 1
        await gate.wait()
        local.advance(1)
        return 42

    tasks = [asyncio.create_task(clock.ensure_fresh(fetch)) for _ in range(5)]
    await asyncio.sleep(0)
    gate.set()
    await asyncio.gather(*tasks)
    assert calls == 1


async def test_forced_resync_skips_when_someone_measured_meanwhile() -> None:
    local = FakeClock(0)
    clock = ServerClock(local)
    calls = 0
    gate = asyncio.Event()

    async def fetch() -> int:
        nonlocal calls
        calls += 1
        await gate.wait()
        local.advance(10)
        return 7

    first = asyncio.create_task(clock.resync(fetch))
    await asyncio.sleep(0)
    second = asyncio.create_task(clock.resync(fetch))
    await asyncio.sleep(0)
    gate.set()
    await asyncio.gather(first, second)
    assert calls == 1
