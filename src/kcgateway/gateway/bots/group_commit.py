"""Group commit for accepted signals: the signals that arrive together share one commit.

Each accepted signal must be committed (its replay id and its queue row) before it is
acknowledged. One transaction per signal made every acknowledgement wait for all those queued
before it, one fsync each; here the signals that arrive while a commit is in flight are
committed together by the next one, so an acknowledgement waits for at most two commits
however many signals arrive at once. Durability is unchanged: a signal is acknowledged only
after the commit that holds it.

A batch whose commit fails on a unique key (a replayed message id, possibly twice in the same
batch) is retried one signal per transaction, so only the replays are refused.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError

from kcgateway.store.database import Database
from kcgateway.store.signal_queue import queue_signals

#: a unique key refused the batch: raw SQLite on the hot path, SQLAlchemy's elsewhere
_DUPLICATE = (IntegrityError, sqlite3.IntegrityError)


@dataclass
class _Entry:
    seen: dict[str, Any]
    row: dict[str, Any]
    done: asyncio.Future[bool] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class GroupCommit:
    """Commits (replay id, queue row) pairs in batches; :meth:`add` says accepted or replayed."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._pending: list[_Entry] = []
        self._task: asyncio.Task[None] | None = None

    async def add(self, seen: dict[str, Any], row: dict[str, Any]) -> bool:
        """Commit both rows (with whatever else is waiting); False when the id was seen."""
        entry = _Entry(seen, row)
        self._pending.append(entry)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        return await asyncio.shield(entry.done)

    async def _run(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await self._commit(batch)
            except _DUPLICATE:
                for entry in batch:
                    await self._one(entry)
            except Exception as exc:  # the senders see the failure (500), none is acknowledged
                for entry in batch:
                    if not entry.done.done():
                        entry.done.set_exception(exc)
            else:
                for entry in batch:
                    entry.done.set_result(True)

    async def _commit(self, batch: list[_Entry]) -> None:
        async with self._db.hot_write(first=True) as runner:  # senders wait on it
            await queue_signals(runner, [e.seen for e in batch], [e.row for e in batch])

    async def _one(self, entry: _Entry) -> None:
        try:
            await self._commit([entry])
        except _DUPLICATE:
            entry.done.set_result(False)
        except Exception as exc:
            entry.done.set_exception(exc)
        else:
            entry.done.set_result(True)
