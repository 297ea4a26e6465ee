from __future__ import annotations

import asyncio
import secrets
import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from kcgateway.errors import ConfigError
from kcgateway.store import database
from kcgateway.store.database import Database, data_dir, database_url, normalise_url, open_database
from kcgateway.store.ledger import AuditRepository
from kcgateway.store.repositories import TenantRepository
from tests.helpers.databases import sqlite_database

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_default_url_is_a_sqlite_file_under_the_data_dir() -> None:
    assert data_dir({}) == Path("data")
    assert database_url({}) == "sqlite+aiosqlite:///data/kcgateway.db"
    assert database_url({"KCGW_DATA_DIR": "/srv/kcgw"}) == (
        "sqlite+aiosqlite:////srv/kcgw/kcgateway.db"
    )
    pg = "postgresql+asyncpg://u@h/db"
    assert database_url({"KCGW_DATABASE_URL": pg, "KCGW_DATA_DIR": "/x"}) == pg


def test_bare_urls_get_the_async_driver_and_others_are_refused() -> None:
    assert normalise_url("postgresql://u@h/db").drivername == "postgresql+asyncpg"
    assert normalise_url("sqlite:///x.db").drivername == "sqlite+aiosqlite"
    with pytest.raises(ConfigError, match="unsupported database 'mysql'"):
        normalise_url("mysql://u@h/db")
    with pytest.raises(ConfigError, match="not valid"):
        normalise_url("::not a url::")


async def test_url_in_messages_hides_the_password(tmp_path: Path) -> None:
    password = secrets.token_hex(8)
    db = open_database(f"postgresql://user:{password}@127.0.0.1:1/none")
    try:
        assert password not in db.url and "***" in db.url
    finally:
        await db.aclose()


async def test_sqlite_runs_in_wal_with_a_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    db = await sqlite_database(tmp_path / "deep" / "dir" / "k.db")
    try:
        async with db.read() as s:
            assert (await s.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            # the engine's calls run on aiosqlite's thread: SQLite's own busy wait is fine there
            busy = (await s.execute(text("PRAGMA busy_timeout"))).scalar()
            assert busy == database.BUSY_TIMEOUT_MS
            assert (await s.execute(text("PRAGMA foreign_keys"))).scalar() == 1
        assert (tmp_path / "deep" / "dir").stat().st_mode & 0o077 == 0
        assert (tmp_path / "deep" / "dir" / "k.db").stat().st_mode & 0o777 == 0o600
        wal = tmp_path / "deep" / "dir" / "k.db-wal"
        assert wal.stat().st_mode & 0o777 == 0o600  # SQLite copies the database file's mode
    finally:
        await db.aclose()


async def test_fifty_concurrent_writers_on_sqlite_all_complete(tmp_path: Path) -> None:
    db = await sqlite_database(tmp_path / "busy.db")

    async def writer(i: int) -> None:
        # read-then-write transactions: the audit append reads the chain head, then inserts
        async with db.write() as s:
            await AuditRepository(s).append(actor=f"w{i}", action="write", subject="-", now=NOW)
            await asyncio.sleep(0)  # yield inside the transaction: others must wait, not fail
            await TenantRepository(s).add(f"w{i}-{uuid.uuid4().hex[:6]}", now=NOW)

    try:
        results = await asyncio.gather(*(writer(i) for i in range(50)), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        assert errors == []
        async with db.read() as s:
            assert (await s.execute(text("SELECT count(*) FROM tenants"))).scalar() == 50
            assert len(await AuditRepository(s).all()) == 50
            assert await AuditRepository(s).verify() is None
    finally:
        await db.aclose()


async def test_two_engines_on_one_file_serialise_through_begin_immediate(
    tmp_path: Path,
) -> None:
    # two Database objects share no asyncio lock, like two processes: SQLite's own write lock
    # (taken up front by BEGIN IMMEDIATE, waited for by busy_timeout) must keep them apart
    path = tmp_path / "shared.db"
    first = await sqlite_database(path)
    second = open_database(f"sqlite:///{path}")

    async def append(db: Database, i: int) -> None:
        async with db.write() as s:
            await AuditRepository(s).append(actor=f"p{i}", action="a", subject="-", now=NOW)

    try:
        results = await asyncio.gather(
            *(append(first if i % 2 else second, i) for i in range(40)),
            return_exceptions=True,
        )
        assert [r for r in results if isinstance(r, BaseException)] == []
        # the write lock is taken at BEGIN (IMMEDIATE), before the first write statement
        async with first.write() as s:
            await s.execute(text("SELECT 1"))
            other = sqlite3.connect(path, timeout=0, isolation_level=None)
            with pytest.raises(sqlite3.OperationalError, match="database is locked"):
                other.execute("BEGIN IMMEDIATE")
            other.close()
        async with first.read() as s:
            assert len(await AuditRepository(s).all()) == 40
            assert await AuditRepository(s).verify() is None
    finally:
        await first.aclose()
        await second.aclose()


async def test_a_lock_held_elsewhere_is_waited_for_without_blocking_the_loop(
    tmp_path: Path,
) -> None:
    # another process's writer (a plain sqlite3 connection here) holds the write lock for a
    # while: our write waits for it, and the event loop keeps serving other tasks meanwhile
    path = tmp_path / "held.db"
    db = await sqlite_database(path)
    other = sqlite3.connect(path, isolation_level=None)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    async def release_later() -> None:
        await asyncio.sleep(0.3)
        other.execute("COMMIT")

    try:
        other.execute("BEGIN IMMEDIATE")
        ticking = asyncio.create_task(ticker())
        releasing = asyncio.create_task(release_later())
        async with db.write() as s:
            await TenantRepository(s).add("after-the-lock", now=NOW)  # BEGIN IMMEDIATE waits
            ticks_while_waiting = ticks
        await releasing
        ticking.cancel()
        assert ticks_while_waiting >= 10  # ~60 ticks of 5 ms ran while our BEGIN waited
        async with db.read() as s:
            assert await TenantRepository(s).by_name("after-the-lock") is not None
    finally:
        other.close()
        await db.aclose()


async def test_a_lock_held_past_the_budget_fails_with_database_is_locked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database, "BUSY_TIMEOUT_MS", 50)
    path = tmp_path / "stuck.db"
    db = await sqlite_database(path)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(OperationalError, match="database is locked"):
            async with db.write() as s:
                await TenantRepository(s).add("never", now=NOW)
        other.execute("ROLLBACK")
        async with db.write() as s:  # the connection is usable again once the lock is gone
            await TenantRepository(s).add("later", now=NOW)
    finally:
        other.close()
        await db.aclose()
