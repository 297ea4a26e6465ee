"""SQLite WAL checkpoints on a worker thread, never on the event loop.

Why: with SQLite's default auto-checkpoint, the commit that takes the WAL past 1,000 pages
copies them all back into the database file (and syncs it) right there: a 5 to 7 ms stall of
that commit about once every 45 orders (measured with ``bench/bench_gateway.py``: those stalls
were the gateway's p99 when the hot path committed on the event loop; now its commits run on
a thread, see :mod:`.fastsql`, but the order whose commit checkpoints still waits for it). So
every connection kcgateway opens runs with ``wal_autocheckpoint=0``, and the
:class:`~.database.Database` calls :meth:`WalCheckpointer.wrote` after each committed write
transaction; every :data:`CHECKPOINT_EVERY` of them, a ``PASSIVE`` checkpoint runs on a thread
of its own connection (``PRAGMA wal_checkpoint`` and the standard library's ``sqlite3``: public
APIs only). ``PASSIVE`` never waits for a lock and never blocks writers or readers: what it
cannot copy now (a reader still needs it) waits for the next one. SQLite still checkpoints and
removes the WAL when the last connection closes. With ``synchronous=FULL`` a checkpoint syncs
the WAL before copying and the database file after: a committed row is on disk in the WAL
or in the database file at every moment.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable

log = logging.getLogger("kcgateway.store.wal")

#: committed write transactions between two background checkpoints (an order makes two, each
#: adding some ten pages to the WAL: a checkpoint copies a few hundred pages at most)
CHECKPOINT_EVERY = 32


class WalCheckpointer:
    """Runs ``PRAGMA wal_checkpoint(PASSIVE)`` on a thread every ``every`` write transactions."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], every: int = CHECKPOINT_EVERY):
        self._connect = connect
        self._every = every
        self._writes = 0
        self._running: asyncio.Future[tuple[int, int, int]] | None = None
        #: checkpoints finished, failed, and the last one's (busy, WAL pages, pages copied)
        self.done = 0
        self.failed = 0
        self.last: tuple[int, int, int] | None = None

    def wrote(self) -> None:
        """Count one committed write transaction; start a checkpoint when one is due."""
        self._writes += 1
        if self._writes < self._every or self._running is not None:
            return
        self._writes = 0
        running = asyncio.get_running_loop().run_in_executor(None, self._checkpoint)
        running.add_done_callback(self._finished)
        self._running = running

    def _checkpoint(self) -> tuple[int, int, int]:
        conn = self._connect()
        try:
            busy, pages, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            return int(busy), int(pages), int(copied)
        finally:
            conn.close()

    def _finished(self, running: asyncio.Future[tuple[int, int, int]]) -> None:
        self._running = None
        if running.cancelled():
            return
        exc = running.exception()
        if exc is None:
            self.done += 1
            self.last = running.result()
            return
        self.failed += 1  # the next one retries; SQLite's own errors carry no secrets
        log.warning("WAL checkpoint failed (will retry): %s", type(exc).__name__)

    async def idle(self) -> None:
        """Wait for a running checkpoint (if any) to finish."""
        running = self._running
        if running is not None:
            await asyncio.wait([running])
