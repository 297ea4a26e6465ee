"""Stopping a background task: cancel it and wait until it has stopped.

Every service that runs a loop in the background (reconciler, streams, pollers, senders)
stops it the same way at ``aclose``; this is that way, once.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


async def stop_task(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` (if any) and wait for it to finish; its cancellation is not an error.

    A task that already finished is left as it is (stopping a service does not raise the
    error its background task may have ended with: that was logged where it happened).
    """
    if task is None or task.done():
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
