"""SQLite is durable by default on every connection kcgateway opens; ``normal`` is an opt-in.

Every way to the database is checked: the engine's pooled connections (reads and writes), the
hot path's raw write and read connections, and the WAL checkpointer's. ``PRAGMA synchronous``
reads 2 for FULL (every commit fsyncs the WAL) and 1 for NORMAL.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path

import aiosqlite
import pytest
from sqlalchemy import text

from kcgateway.errors import ConfigError
from kcgateway.main import open_store
from kcgateway.settings import load_settings
from kcgateway.store.database import Database, open_database
from kcgateway.store.fastsql import SqliteRunner, _to_the_end
from kcgateway.store.ledger import NewIntent, insert_intent
from kcgateway.store.migrate import upgrade
from kcgateway.store.repositories import AccountRepository, TenantRepository
from kcgateway.store.types import OrderState

NOW = datetime(2026, 1, 3, tzinfo=UTC)
FULL, NORMAL = 2, 1


async def _synchronous_of_every_connection(db: Database) -> dict[str, int]:
    """``PRAGMA synchronous`` as each kind of connection runs it."""
    found: dict[str, int] = {}
    async with db.read() as s:
        found["engine read"] = (await s.execute(text("PRAGMA synchronous"))).scalar_one()
    async with db.write() as s:
        found["engine write"] = (await s.execute(text("PRAGMA synchronous"))).scalar_one()
    for kind, opened in (("hot write", db.hot_write()), ("hot read", db.hot_read())):
        async with opened as runner:
            assert isinstance(runner, SqliteRunner)
            raw: sqlite3.Connection = runner._conn
            found[kind] = raw.execute("PRAGMA synchronous").fetchone()[0]
    assert db.checkpointer is not None
    checkpoints = db.checkpointer._connect()  # what each background checkpoint opens
    try:
        found["checkpointer"] = checkpoints.execute("PRAGMA synchronous").fetchone()[0]
    finally:
        checkpoints.close()
    return found


async def _migrated(path: Path, **options: str) -> Database:
    db = open_database(f"sqlite:///{path}", **options)  # type: ignore[arg-type]
    await upgrade(db.engine)
    return db


async def test_every_sqlite_connection_is_durable_by_default(tmp_path: Path) -> None:
    db = await _migrated(tmp_path / "full.db")
    try:
        found = await _synchronous_of_every_connection(db)
    finally:
        await db.aclose()
    assert found == dict.fromkeys(
        ("engine read", "engine write", "hot write", "hot read", "checkpointer"), FULL
    )


async def test_normal_is_an_opt_in_that_reaches_every_connection(tmp_path: Path) -> None:
    db = await _migrated(tmp_path / "normal.db", synchronous="normal")
    try:
        found = await _synchronous_of_every_connection(db)
    finally:
        await db.aclose()
    assert set(found.values()) == {NORMAL} and len(found) == 5


def test_unknown_synchronous_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="synchronous must be one of"):
        open_database(f"sqlite:///{tmp_path / 'x.db'}", synchronous="off")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="sqlite_synchronous"):
        load_settings({"KCGW_SQLITE_SYNCHRONOUS": "off"})


def test_the_setting_is_read_once_from_the_environment() -> None:
    assert load_settings({}).sqlite_synchronous == "full"
    assert load_settings({"KCGW_SQLITE_SYNCHRONOUS": "NORMAL"}).sqlite_synchronous == "normal"


async def test_serve_opens_the_store_with_the_configured_setting(tmp_path: Path) -> None:
    for value, expected in (("", FULL), ("normal", NORMAL)):
        data = str(tmp_path / (value or "default"))
        settings = load_settings({"KCGW_DATA_DIR": data, "KCGW_SQLITE_SYNCHRONOUS": value})
        db = await open_store(settings)
        try:
            found = await _synchronous_of_every_connection(db)
        finally:
            await db.aclose()
        assert set(found.values()) == {expected}


async def test_the_engine_uses_aiosqlite_as_published(tmp_path: Path) -> None:
    # public APIs only: the engine's connections are aiosqlite's own class, not a subclass
    # that replaces its executor
    db = await _migrated(tmp_path / "plain.db")
    try:
        async with db.read_connection() as conn:
            raw = await conn.get_raw_connection()
            assert type(raw.driver_connection) is aiosqlite.Connection
    finally:
        await db.aclose()


async def test_hot_statements_run_on_the_loop_and_the_commit_on_its_own_thread(
    tmp_path: Path,
) -> None:
    # with synchronous=FULL a commit waits for an fsync: it must not hold up the event loop
    db = await _migrated(tmp_path / "threads.db")
    ran: list[tuple[str, str]] = []
    try:
        async with db.write() as s:
            tenant = await TenantRepository(s).add(f"t-{uuid.uuid4().hex[:6]}", now=NOW)
            account = await AccountRepository(s).add(tenant, "main", now=NOW)
        async with db.hot_write() as runner:
            assert isinstance(runner, SqliteRunner)
            runner._conn.set_trace_callback(
                lambda sql: ran.append((sql.split()[0], threading.current_thread().name))
            )
            new = NewIntent(
                account, uuid.uuid4().hex, "BTC-USDT", "buy", "limit", Decimal("1"),
                Decimal("0.5"), state=OrderState.SENT,
            )  # fmt: skip
            assert await insert_intent(runner, new, now=NOW) is not None
        runner._conn.set_trace_callback(None)
    finally:
        await db.aclose()
    loop_thread = threading.current_thread().name
    threads = dict(ran)
    assert threads["INSERT"] == loop_thread
    assert threads["COMMIT"] != loop_thread and threads["COMMIT"].startswith("kcgw-sqlite-commit")


async def test_without_fsync_the_hot_commit_stays_on_the_loop(tmp_path: Path) -> None:
    # synchronous=normal: a commit is microseconds, cheaper inline than a thread hop
    db = await _migrated(tmp_path / "inline.db", synchronous="normal")
    ran: list[str] = []
    try:
        async with db.hot_write() as runner:
            assert isinstance(runner, SqliteRunner)
            runner._conn.set_trace_callback(lambda sql: ran.append(threading.current_thread().name))
        runner._conn.set_trace_callback(None)
    finally:
        await db.aclose()
    assert ran and set(ran) == {threading.current_thread().name}


async def test_a_cancelled_commit_is_waited_for_before_the_cancellation_is_raised() -> None:
    # the write path rolls back in a finally: it must never run while the commit still runs
    finished = threading.Event()

    def slow_commit() -> str:
        time.sleep(0.3)
        finished.set()
        return "committed"

    with ThreadPoolExecutor(1) as thread:
        loop = asyncio.get_running_loop()
        task = asyncio.create_task(_to_the_end(loop.run_in_executor(thread, slow_commit)))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert finished.is_set()  # the cancellation came only after the commit had ended
        # and the call's own error or result comes through when nobody cancels
        assert await _to_the_end(loop.run_in_executor(thread, slow_commit)) == "committed"
        with pytest.raises(ZeroDivisionError):
            await _to_the_end(loop.run_in_executor(thread, lambda: 1 // 0))


def _note_commit(commits: list[int], sql: str) -> None:
    if sql == "COMMIT":
        commits.append(threading.get_ident())


async def test_a_transaction_marked_not_durable_skips_only_its_own_fsync(tmp_path: Path) -> None:
    # an order's outcome after the send: the reconciler redoes it if a power loss drops it
    db = await _migrated(tmp_path / "relaxed.db")
    loop = threading.get_ident()
    try:
        for durable, level in ((False, NORMAL), (True, FULL)):
            commits: list[int] = []
            async with db.hot_write(durable=durable) as runner:
                assert isinstance(runner, SqliteRunner)
                raw: sqlite3.Connection = runner._conn
                assert raw.execute("PRAGMA synchronous").fetchone()[0] == level
                raw.set_trace_callback(partial(_note_commit, commits))
            raw.set_trace_callback(None)
            assert len(commits) == 1
            assert (commits[0] == loop) is not durable  # no fsync to wait for: inline
            # back to durable for the next transaction
            assert raw.execute("PRAGMA synchronous").fetchone()[0] == FULL
        with pytest.raises(ZeroDivisionError):  # restored after an error too
            async with db.hot_write(durable=False):
                raise ZeroDivisionError
        assert raw.execute("PRAGMA synchronous").fetchone()[0] == FULL
    finally:
        await db.aclose()
