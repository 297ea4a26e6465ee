"""The write lock: one holder, ordinary writers in arrival order, first-class ones ahead."""

from __future__ import annotations

import asyncio

import pytest

from kcgateway.store.write_lock import WriteLock


async def _take(lock: WriteLock, name: str, order: list[str], *, first: bool = False) -> None:
    if first:
        async with lock.first():
            order.append(name)
    else:
        async with lock:
            order.append(name)


async def test_first_class_writers_go_before_the_queued_ordinary_ones() -> None:
    lock, order = WriteLock(), []
    await lock.acquire()
    tasks = [asyncio.create_task(_take(lock, f"r{i}", order)) for i in range(3)]
    await asyncio.sleep(0)
    tasks += [asyncio.create_task(_take(lock, f"f{i}", order, first=True)) for i in range(2)]
    await asyncio.sleep(0)
    assert lock.locked() and order == []
    lock.release()
    await asyncio.gather(*tasks)
    assert order == ["f0", "f1", "r0", "r1", "r2"] and not lock.locked()


async def test_a_cancelled_waiter_leaves_the_queue_and_never_holds_the_lock() -> None:
    lock, order = WriteLock(), []
    await lock.acquire()
    gone = asyncio.create_task(_take(lock, "gone", order, first=True))
    stays = asyncio.create_task(_take(lock, "stays", order))
    await asyncio.sleep(0)
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    lock.release()
    await stays
    assert order == ["stays"] and not lock.locked()


async def test_a_waiter_cancelled_after_the_handover_passes_the_lock_on() -> None:
    lock, order = WriteLock(), []
    await lock.acquire()
    handed = asyncio.create_task(_take(lock, "handed", order))
    after = asyncio.create_task(_take(lock, "after", order))
    await asyncio.sleep(0)
    lock.release()  # ownership passes to `handed`, which is cancelled before it runs
    handed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await handed
    await asyncio.wait_for(after, 30)
    assert order == ["after"] and not lock.locked()
