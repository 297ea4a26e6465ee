"""WAL checkpoints run on a worker thread, never inside a commit on the event loop."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from kcgateway.store import wal
from kcgateway.store.database import Database, open_database
from kcgateway.store.migrate import upgrade
from kcgateway.store.repositories import TenantRepository
from kcgateway.store.wal import CHECKPOINT_EVERY, WalCheckpointer

NOW = datetime(2026, 1, 2, tzinfo=UTC)


async def _db(tmp_path: Path) -> Database:
    db = open_database(f"sqlite+aiosqlite:///{tmp_path / 'wal.db'}")
    await upgrade(db.engine)
    return db


async def _write(db: Database, n: int) -> None:
    for _ in range(n):
        async with db.write() as s:
            await TenantRepository(s).add(f"t-{uuid.uuid4().hex}", now=NOW)


async def test_no_connection_checkpoints_on_its_own(tmp_path: Path) -> None:
    db = await _db(tmp_path)
    try:
        async with db.read_connection() as conn:
            assert (await conn.execute(text("PRAGMA wal_autocheckpoint"))).scalar() == 0
        async with db.hot_read() as runner:
            raw = runner._conn  # type: ignore[attr-defined]
            assert raw.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    finally:
        await db.aclose()


async def test_every_so_many_writes_a_checkpoint_runs_on_another_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[str] = []
    run = WalCheckpointer._checkpoint

    def spy(self: WalCheckpointer) -> tuple[int, int, int]:
        threads.append(threading.current_thread().name)
        return run(self)

    monkeypatch.setattr(WalCheckpointer, "_checkpoint", spy)
    db = await _db(tmp_path)
    try:
        assert db.checkpointer is not None
        await _write(db, CHECKPOINT_EVERY - 1)
        assert threads == []  # not due yet
        await _write(db, 1)
        await db.checkpointer.idle()
        assert len(threads) == 1 and threads[0] != threading.current_thread().name
        busy, pages, copied = db.checkpointer.last or (1, 0, -1)
        assert busy == 0 and pages > 0 and copied == pages  # the whole WAL copied back
        # and the rows are in the database file itself: readable with the WAL ignored
        plain = sqlite3.connect(f"file:{tmp_path / 'wal.db'}?immutable=1", uri=True)
        try:
            count = plain.execute("SELECT count(*) FROM tenants").fetchone()[0]
        finally:
            plain.close()
        assert count == CHECKPOINT_EVERY
    finally:
        await db.aclose()


async def test_a_failed_checkpoint_is_logged_and_retried(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    attempts: list[int] = []

    def broken() -> sqlite3.Connection:
        attempts.append(1)
        if len(attempts) == 1:
            raise sqlite3.OperationalError("disk I/O error")
        return sqlite3.connect(tmp_path / "x.db")

    checkpointer = WalCheckpointer(broken, every=2)
    with caplog.at_level("WARNING", logger=wal.log.name):
        for _ in range(2):
            checkpointer.wrote()
        await checkpointer.idle()
        assert (checkpointer.failed, checkpointer.done) == (1, 0)
        assert "WAL checkpoint failed" in caplog.text
        for _ in range(2):
            checkpointer.wrote()
        await checkpointer.idle()
    assert (checkpointer.failed, checkpointer.done) == (1, 1)
