"""Engines and sessions: SQLite by default (a file under the data directory), PostgreSQL by URL.

Sessions are explicit: ``async with db.read() as s`` or ``async with db.write() as s`` and the
session is handed to repositories. There is no global session.

SQLite runs in WAL mode with a busy timeout. kcgateway, not the sqlite3 module, emits the
``BEGIN``: ``BEGIN IMMEDIATE`` for :meth:`Database.write` (the write lock is taken up front, so
a read-then-write transaction cannot fail half way, also against another process, which waits
up to the busy timeout) and a plain ``BEGIN`` for reads. This also makes SAVEPOINTs nest
properly (the sqlite3 module's own transaction handling would let a leading SAVEPOINT commit on
release). Inside one process, write transactions also queue on an :class:`asyncio.Lock`, so
50 concurrent writers wait their turn instead of hitting "database is locked".
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Dialect, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from kcgateway.errors import ConfigError
from kcgateway.store import inline_sqlite
from kcgateway.store.audit_chain import AUDIT_KEY_INFO, ChainKey
from kcgateway.store.fastsql import CoreRunner, Runner, SqliteRunner
from kcgateway.store.inline_sqlite import InlineConnection, run_busy
from kcgateway.store.wal import WalCheckpointer

DATA_DIR_ENV = "KCGW_DATA_DIR"
DATABASE_URL_ENV = "KCGW_DATABASE_URL"
DEFAULT_DATA_DIR = "data"
SQLITE_FILE = "kcgateway.db"
BUSY_TIMEOUT_MS = 10_000
_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


def data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The data directory: ``$KCGW_DATA_DIR`` or ``./data``."""
    env = os.environ if environ is None else environ
    return Path(env.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR)


def database_url(environ: Mapping[str, str] | None = None) -> str:
    """``$KCGW_DATABASE_URL``, or the SQLite file ``<data dir>/kcgateway.db``."""
    env = os.environ if environ is None else environ
    explicit = env.get(DATABASE_URL_ENV)
    if explicit:
        return explicit
    return f"sqlite+aiosqlite:///{data_dir(env) / SQLITE_FILE}"


def normalise_url(url: str) -> URL:
    """Pick the async driver for a bare ``sqlite://`` or ``postgresql://`` URL."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError; keep the message short
        raise ConfigError("the database URL is not valid") from exc
    backend = parsed.get_backend_name()
    if backend not in _DRIVERS:
        raise ConfigError(f"unsupported database {backend!r}: use sqlite or postgresql")
    if parsed.drivername == backend:
        parsed = parsed.set(drivername=_DRIVERS[backend])
    return parsed


def safe_url(url: URL) -> str:
    """The URL with its password masked, for messages and logs."""
    return url.render_as_string(hide_password=True)


IMMEDIATE = "kcgw_begin_immediate"


def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # 0: a busy lock is waited for by InlineConnection (asyncio.sleep), not inside SQLite
    cursor.execute("PRAGMA busy_timeout=0")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # checkpoints run on a thread (store/wal.py), never inside a commit on the event loop
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (_sqlite_begin)


def _sqlite_begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get(IMMEDIATE, False)
    # straight on the DBAPI cursor: exec_driver_sql would build a whole execution context
    # (and fire its events) for every transaction
    statement = "BEGIN IMMEDIATE" if immediate else "BEGIN"
    cursor = conn.connection.cursor()
    try:
        cursor.execute(statement)
    except sqlite3.Error as exc:  # the same SQLAlchemy error exec_driver_sql would raise
        raise DBAPIError.instance(statement, None, exc, sqlite3.Error) from None
    finally:
        cursor.close()


def _prepare_sqlite_file(url: URL) -> None:
    """Create the data directory (0700) and an empty database file readable by us only (0600)."""
    database = url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        path = Path(database)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with contextlib.suppress(FileExistsError):  # an existing file keeps its owner's mode
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _hot_connector(url: URL) -> Callable[[], sqlite3.Connection] | None:
    """Raw connections for the hot path; None for an in-memory database (one per connection)."""
    database = url.database or ""
    if database in ("", ":memory:") or "mode=memory" in database:
        return None
    cargs, cparams = url.get_dialect()().create_connect_args(url)
    return inline_sqlite.connector(*cargs, **cparams)


def _inline_creator(url: URL) -> Callable[[], Awaitable[InlineConnection]]:
    """Connections that run SQLite on the loop's thread (see :mod:`.inline_sqlite`)."""
    cargs, cparams = url.get_dialect()().create_connect_args(url)
    connect = inline_sqlite.connector(*cargs, **cparams)

    async def create() -> InlineConnection:
        return await InlineConnection(connect, BUSY_TIMEOUT_MS / 1000)

    return create


class _HotSqlite:
    """The hot path's own two SQLite connections: one for write transactions, one for reads.

    Opened on first use with the engine's pragmas; each runs its statements inline (see
    :mod:`.fastsql`). Writes still queue on the :class:`Database` write lock.
    """

    def __init__(self, connect: Callable[[], sqlite3.Connection], dialect: Dialect) -> None:
        self._connect = connect
        self._dialect = dialect
        self._open: dict[str, SqliteRunner] = {}

    async def runner(self, role: str) -> SqliteRunner:
        found = self._open.get(role)
        if found is None:
            conn = await run_busy(self._connect, BUSY_TIMEOUT_MS / 1000)
            _sqlite_pragmas(conn, None)
            found = self._open[role] = SqliteRunner(conn, self._dialect, BUSY_TIMEOUT_MS / 1000)
        return found

    def close(self) -> None:
        for runner in self._open.values():
            runner.close()
        self._open.clear()


class Database:
    """An async engine plus explicit read and write sessions.

    ``hot_connect`` (SQLite files only): opens the raw connections :meth:`hot_write` and
    :meth:`hot_read` run on, and those the WAL checkpoints run on (:mod:`.wal`); without it
    the hot path runs through the engine.
    """

    def __init__(
        self, engine: AsyncEngine, hot_connect: Callable[[], sqlite3.Connection] | None = None
    ) -> None:
        self.engine = engine
        self._hot = None if hot_connect is None else _HotSqlite(hot_connect, engine.dialect)
        #: None unless SQLite on a file
        self.checkpointer = None if hot_connect is None else WalCheckpointer(hot_connect)
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        writer = engine.execution_options(**{IMMEDIATE: True}) if self.is_sqlite else engine
        self._writer = writer
        self._write_sessions = async_sessionmaker(writer, expire_on_commit=False)
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        self._audit_key: ChainKey | None = None

    def use_audit_key(self, key: ChainKey) -> None:
        """Chain every audit record written from now on with ``key`` (HMAC, not bare SHA-256).

        The key travels in the ``info`` of each write session, write connection and hot-path
        runner, where :mod:`.ledger` finds it; nothing else reads it.
        """
        self._audit_key = key
        self._write_sessions.configure(info={AUDIT_KEY_INFO: key})

    @property
    def is_sqlite(self) -> bool:
        """True on the embedded SQLite engine."""
        return self.engine.dialect.name == "sqlite"

    @property
    def url(self) -> str:
        """The database URL, password masked."""
        return safe_url(self.engine.url)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reads; whatever it did is rolled back at the end."""
        async with self._sessions() as session:
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A session in one transaction: committed on success, rolled back on error."""
        if self._write_lock is None:
            async with self._write_sessions.begin() as session:
                yield session
            return
        async with self._write_lock, self._write_sessions.begin() as session:
            yield session
        self._wrote()

    @asynccontextmanager
    async def read_connection(self) -> AsyncIterator[AsyncConnection]:
        """:meth:`read` as a bare Core connection (no ORM session: less CPU per call)."""
        async with self.engine.connect() as conn:
            yield conn

    @asynccontextmanager
    async def write_connection(self) -> AsyncIterator[AsyncConnection]:
        """:meth:`write` as a bare Core connection, for the order hot path.

        Same transaction rules: ``BEGIN IMMEDIATE`` and the in-process write lock on SQLite,
        committed on success, rolled back on error.
        """
        if self._write_lock is None:
            async with self._writer.begin() as conn:
                conn.info[AUDIT_KEY_INFO] = self._audit_key
                yield conn
            return
        async with self._write_lock, self._writer.begin() as conn:
            conn.info[AUDIT_KEY_INFO] = self._audit_key
            yield conn
        self._wrote()

    @asynccontextmanager
    async def hot_write(self) -> AsyncIterator[Runner]:
        """:meth:`write_connection` as a :class:`~.fastsql.Runner` of prebuilt statements.

        On a SQLite file: the raw write connection, under the same write lock, in a
        ``BEGIN IMMEDIATE`` transaction committed on success and rolled back on any error
        (cancellation too). Elsewhere: a Core connection in a transaction.
        """
        if self._hot is None or self._write_lock is None:
            async with self.write_connection() as conn:
                yield CoreRunner(conn)
            return
        async with self._write_lock:
            runner = await self._hot.runner("write")
            runner.info[AUDIT_KEY_INFO] = self._audit_key
            await runner.begin_immediate()
            try:
                yield runner
                await runner.commit()
            finally:
                runner.rollback()  # a no-op after the commit
        self._wrote()

    def _wrote(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.wrote()

    @asynccontextmanager
    async def hot_read(self) -> AsyncIterator[Runner]:
        """A :class:`~.fastsql.Runner` for single-statement reads (each its own snapshot)."""
        if self._hot is None:
            async with self.read_connection() as conn:
                yield CoreRunner(conn)
            return
        yield await self._hot.runner("read")

    async def aclose(self) -> None:
        """Close every pooled connection (and the hot path's own)."""
        if self.checkpointer is not None:
            await self.checkpointer.idle()
        if self._hot is not None:
            self._hot.close()
        await self.engine.dispose()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def open_database(url: str | None = None, *, echo: bool = False) -> Database:
    """A :class:`Database` for ``url`` (default: :func:`database_url`). Does no I/O."""
    parsed = normalise_url(url or database_url())
    if parsed.get_backend_name() == "sqlite":
        _prepare_sqlite_file(parsed)
        engine = create_async_engine(parsed, echo=echo, async_creator=_inline_creator(parsed))
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return Database(engine, _hot_connector(parsed))
    engine = create_async_engine(parsed, echo=echo, pool_pre_ping=True)
    return Database(engine)
