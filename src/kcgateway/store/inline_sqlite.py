"""aiosqlite's connection API, run on the event loop's own thread (no worker thread).

Why: aiosqlite runs every call (cursor, execute, fetch, close, commit...) on a worker thread,
one thread hop each, and an SQLAlchemy session makes 5-10 such calls per statement. On a busy
2-core machine each hop waits for the OS to schedule the worker, so a one-row read costs
~1.3 ms CPU and 1.5-4 ms wall through aiosqlite, against ~0.1-0.3 ms run inline (measured:
``bench/bench_gateway.py`` and the report of the ``hotpath`` branch). SQLite on a local file in
WAL mode with ``synchronous=NORMAL`` does not fsync on commit, so an inline call is a few tens
of microseconds of CPU: cheaper than the hop.

What must not block the loop is waiting for a lock held by ANOTHER process (a CLI command
writing while the gateway serves). So these connections run with ``busy_timeout=0`` and
:meth:`InlineConnection._execute` retries a statement that got ``SQLITE_BUSY`` with
``asyncio.sleep`` backoff, up to the same overall budget the thread-based engine had
(:data:`kcgateway.store.database.BUSY_TIMEOUT_MS`). A busy statement had no effect, so
retrying it is what SQLite's own busy handler does. ``SQLITE_BUSY_SNAPSHOT`` (a stale read
snapshot that wants to write) is never retried: it cannot succeed.

The class reuses aiosqlite's :class:`~aiosqlite.Connection` (and its Cursor) so SQLAlchemy's
``sqlite+aiosqlite`` dialect drives it unchanged; only the executor is replaced.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Generator
from functools import partial
from typing import Any

import aiosqlite

SQLITE_BUSY = 5
_FIRST_WAIT_S = 0.001
_MAX_WAIT_S = 0.05


class _InlineQueue:
    """Stands in for aiosqlite's job queue: runs the job at once and settles its future.

    SQLAlchemy's adapter puts ``isolation_level`` changes straight on ``Connection._tx``.
    """

    @staticmethod
    def put_nowait(job: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = job
        try:
            result = function()
        except BaseException as exc:  # handed to the awaiting caller, as aiosqlite does
            if future is not None and not future.done():
                future.set_exception(exc)
            return
        if future is not None and not future.done():
            future.set_result(result)


def is_busy(exc: sqlite3.OperationalError) -> bool:
    """True for a plain SQLITE_BUSY (a lock another connection holds), not BUSY_SNAPSHOT."""
    return getattr(exc, "sqlite_errorcode", None) == SQLITE_BUSY


class InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection whose calls run on the calling (event loop) thread."""

    def __init__(self, connector: Callable[[], sqlite3.Connection], busy_budget_s: float) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._tx = _InlineQueue()  # type: ignore[assignment]
        self._busy_budget_s = busy_budget_s

    def __await__(self) -> Generator[Any, None, InlineConnection]:
        return self._open().__await__()

    async def _open(self) -> InlineConnection:
        if self._connection is None:
            self._connection = await run_busy(self._connector, self._busy_budget_s)
        return self

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or self._connection is None:
            raise ValueError("Connection closed")
        return await run_busy(partial(fn, *args, **kwargs), self._busy_budget_s)

    def stop(self) -> asyncio.Future[Any] | None:
        """Close the sqlite3 connection now (there is no thread to stop)."""
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        return None

    async def close(self) -> None:
        """Close the connection."""
        self.stop()


async def run_busy(function: Callable[[], Any], budget_s: float) -> Any:
    """``function()`` now, retried with ``asyncio.sleep`` backoff while it meets SQLITE_BUSY.

    Gives up (re-raising the busy error) once ``budget_s`` has passed since the first busy try.
    Returns without ever suspending when the first try succeeds.
    """
    deadline: float | None = None
    wait = _FIRST_WAIT_S
    while True:
        try:
            return function()
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
            now = time.monotonic()
            if deadline is None:
                deadline = now + budget_s
            if now + wait > deadline:
                raise
        await asyncio.sleep(wait)
        wait = min(wait * 2, _MAX_WAIT_S)


def connector(database: str, **kwargs: Any) -> Callable[[], sqlite3.Connection]:
    """A function opening ``database`` (SQLAlchemy's connect arguments) with no busy wait."""
    open_: Callable[..., sqlite3.Connection] = sqlite3.connect

    def connect() -> sqlite3.Connection:
        return open_(database, **{**kwargs, "timeout": 0})

    return connect
