"""stop_task: cancels a running task and waits for it; leaves a finished one alone."""

from __future__ import annotations

import asyncio

from kcgateway.tasks import stop_task


async def test_a_running_task_is_cancelled_and_awaited() -> None:
    stopped = asyncio.Event()

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            stopped.set()

    task = asyncio.get_running_loop().create_task(forever())
    await asyncio.sleep(0)
    await stop_task(task)
    assert task.cancelled() and stopped.is_set()


async def test_none_and_finished_tasks_are_left_alone() -> None:
    await stop_task(None)

    async def fails() -> None:
        raise RuntimeError("ended badly")

    task = asyncio.get_running_loop().create_task(fails())
    await asyncio.sleep(0.01)
    await stop_task(task)  # no raise: the error was the task's own to log
    assert isinstance(task.exception(), RuntimeError)
