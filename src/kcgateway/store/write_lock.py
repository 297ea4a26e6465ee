"""The in-process SQLite write lock, with a front of the queue for acknowledgements.

SQLite has one writer at a time; inside one process writers queue on this lock (FIFO), so
50 concurrent writers wait their turn instead of hitting "database is locked". Some writes
have a caller waiting on them with a latency promise (a signal is acknowledged only once it is
committed): :meth:`WriteLock.first` queues such a writer before every ordinary one, so it waits
at most for the transaction in progress and the other first-class writers, never for the
backlog of background work (the signal executor's orders) queued behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from types import TracebackType


class WriteLock:
    """A mutex whose waiters are served first-class first, each class in arrival order."""

    def __init__(self) -> None:
        self._held = False
        self._first: deque[asyncio.Future[None]] = deque()
        self._rest: deque[asyncio.Future[None]] = deque()

    def locked(self) -> bool:
        """True while a writer holds it."""
        return self._held

    async def acquire(self, *, first: bool = False) -> None:
        """Wait for the lock (ahead of every ordinary waiter when ``first``)."""
        if not self._held and not self._first and not self._rest:
            self._held = True
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._first if first else self._rest
        queue.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # handed over, then cancelled
                self.release()
            else:
                queue.remove(waiter)
            raise

    def release(self) -> None:
        """Hand the lock to the next waiter (first-class ones first), or free it."""
        for queue in (self._first, self._rest):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)  # stays held: ownership passes to the waiter
                    return
        self._held = False

    @contextlib.asynccontextmanager
    async def first(self) -> AsyncIterator[None]:
        """Hold the lock, queued ahead of ordinary writers."""
        await self.acquire(first=True)
        try:
            yield
        finally:
            self.release()

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
