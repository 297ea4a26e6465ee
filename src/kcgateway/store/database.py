"""Engines and sessions: SQLite by default (a file under the data directory), PostgreSQL by URL.

Sessions are explicit: ``async with db.read() as s`` or ``async with db.write() as s`` and the
session is handed to repositories. There is no global session.

SQLite runs in WAL mode, durable by default: ``synchronous=FULL`` on every connection
kcgateway opens (the engine's, the hot path's, the checkpointer's), so a commit returns only
once the WAL is fsynced, and an intent committed before its order is sent survives a power
loss. ``synchronous=NORMAL`` (no fsync per commit: an OS crash or power loss can drop the last
commits) only when asked for (``KCGW_SQLITE_SYNCHRONOUS=normal``, see the README).

Two ways reach the database, both through public APIs: SQLAlchemy's async engine (aiosqlite
on SQLite, asyncpg on PostgreSQL) for everything, and on a SQLite file the order hot path's
prebuilt statements on raw ``sqlite3`` connections kcgateway owns (:mod:`.fastsql`;
elsewhere the hot path runs through the engine too).

kcgateway, not the driver, emits the ``BEGIN`` (SQLAlchemy's documented recipe for
pysqlite/aiosqlite): ``BEGIN IMMEDIATE`` for :meth:`Database.write` (the write lock is taken up
front, so a read-then-write transaction cannot fail half way, also against another process,
which waits up to the busy timeout) and a plain ``BEGIN`` for reads. This also makes
SAVEPOINTs nest properly. Inside one process, write transactions also queue on an
:class:`~.write_lock.WriteLock`, so 50 concurrent writers wait their turn instead of hitting
"database is locked" (acknowledgements ahead of background work).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any, Literal, get_args

from sqlalchemy import Dialect, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from kcgateway.errors import ConfigError
from kcgateway.store.audit_chain import AUDIT_KEY_INFO, ChainKey
from kcgateway.store.fastsql import CoreRunner, Runner, SqliteRunner, connector, run_busy
from kcgateway.store.wal import WalCheckpointer
from kcgateway.store.write_lock import WriteLock

DATA_DIR_ENV = "KCGW_DATA_DIR"
DATABASE_URL_ENV = "KCGW_DATABASE_URL"
DEFAULT_DATA_DIR = "data"
SQLITE_FILE = "kcgateway.db"
BUSY_TIMEOUT_MS = 10_000
_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}

#: ``PRAGMA synchronous`` for every SQLite connection: ``full`` (the default) fsyncs the WAL on
#: every commit; ``normal`` does not (faster; an OS crash or power loss can lose the last
#: commits, see the README)
Synchronous = Literal["full", "normal"]
SYNCHRONOUS_MODES: tuple[str, ...] = get_args(Synchronous)
DEFAULT_SYNCHRONOUS: Synchronous = "full"


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


def sqlite_pragmas(dbapi_connection: Any, synchronous: Synchronous, busy_timeout_ms: int) -> None:
    """The settings every SQLite connection of kcgateway runs with (any DB-API connection)."""
    if synchronous not in SYNCHRONOUS_MODES:
        raise ConfigError(f"SQLite synchronous must be one of {SYNCHRONOUS_MODES}")
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
    # checkpoints run on a thread of their own (store/wal.py), never inside a commit
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


def _engine_pragmas(synchronous: Synchronous, dbapi_connection: Any, _record: object) -> None:
    # the engine's calls run on aiosqlite's thread: SQLite's own busy wait blocks only that
    sqlite_pragmas(dbapi_connection, synchronous, BUSY_TIMEOUT_MS)
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (_sqlite_begin)


def _sqlite_begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get(IMMEDIATE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


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
    return connector(*cargs, **cparams)


class _HotSqlite:
    """The hot path's own two SQLite connections: one for write transactions, one for reads.

    Opened on first use with the engine's pragmas except the busy wait (0: statements run on
    the loop thread and :func:`~.fastsql.run_busy` waits instead). Statements run inline;
    with ``commit_off_loop`` (``synchronous=FULL``) the write connection's ``COMMIT`` (the
    fsync) runs on a single thread of its own (see :mod:`.fastsql`); without an fsync a commit
    is microseconds and runs inline (a thread hop would cost more). Writes still queue on the
    :class:`Database` write lock.
    """

    def __init__(
        self, connect: Callable[[], sqlite3.Connection], dialect: Dialect, commit_off_loop: bool
    ) -> None:
        self._connect = connect
        self._dialect = dialect
        self._commit_off_loop = commit_off_loop
        #: True when commits wait for an fsync (synchronous=FULL)
        self.fsyncs = commit_off_loop
        self._open: dict[str, SqliteRunner] = {}
        self._commit_thread: ThreadPoolExecutor | None = None

    async def runner(self, role: str) -> SqliteRunner:
        found = self._open.get(role)
        if found is None:
            conn = await run_busy(self._connect, BUSY_TIMEOUT_MS / 1000)
            thread = None
            if role == "write" and self._commit_off_loop:
                thread = self._commit_thread = ThreadPoolExecutor(1, "kcgw-sqlite-commit")
            found = SqliteRunner(conn, self._dialect, BUSY_TIMEOUT_MS / 1000, thread)
            self._open[role] = found
        return found

    def close(self) -> None:
        if self._commit_thread is not None:  # a commit still running ends before its connection
            self._commit_thread.shutdown(wait=True)
            self._commit_thread = None
        for runner in self._open.values():
            runner.close()
        self._open.clear()


def _open_hot(
    connect: Callable[[], sqlite3.Connection], synchronous: Synchronous
) -> sqlite3.Connection:
    conn = connect()
    try:
        sqlite_pragmas(conn, synchronous, 0)
    except BaseException:
        conn.close()
        raise
    return conn


class Database:
    """An async engine plus explicit read and write sessions.

    ``hot_connect`` (SQLite files only): opens the raw connections :meth:`hot_write` and
    :meth:`hot_read` run on, and those the WAL checkpoints run on (:mod:`.wal`), configured
    with the engine's pragmas (see :func:`open_database`); without it the hot path runs
    through the engine. ``commit_off_loop``: the hot path commits on a thread of its own
    (for ``synchronous=FULL``, whose commits wait for an fsync).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        hot_connect: Callable[[], sqlite3.Connection] | None = None,
        *,
        commit_off_loop: bool = True,
    ) -> None:
        self.engine = engine
        self._hot = (
            None
            if hot_connect is None
            else _HotSqlite(hot_connect, engine.dialect, commit_off_loop)
        )
        #: None unless SQLite on a file
        self.checkpointer = None if hot_connect is None else WalCheckpointer(hot_connect)
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        writer = engine.execution_options(**{IMMEDIATE: True}) if self.is_sqlite else engine
        self._writer = writer
        self._write_sessions = async_sessionmaker(writer, expire_on_commit=False)
        self._write_lock = WriteLock() if self.is_sqlite else None
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
    async def hot_write(
        self, *, durable: bool = True, first: bool = False
    ) -> AsyncIterator[Runner]:
        """:meth:`write_connection` as a :class:`~.fastsql.Runner` of prebuilt statements.

        On a SQLite file: the raw write connection, under the same write lock, in a
        ``BEGIN IMMEDIATE`` transaction committed on success and rolled back on any error
        (cancellation too). Elsewhere: a Core connection in a transaction.

        ``durable=False`` (SQLite with ``synchronous=FULL`` only; elsewhere ignored): this one
        transaction commits without waiting for an fsync (``synchronous=NORMAL`` for it, then
        back). It becomes durable with the next durable commit or checkpoint; a power loss
        before that drops it. Only for writes the reconciler redoes from the exchange when
        they are lost (an order's outcome after the send), never for one that precedes an
        exchange call.

        ``first``: on SQLite, queue ahead of ordinary writers (a caller waits on this commit
        with a latency promise: a signal's acknowledgement; see :mod:`.write_lock`).
        """
        if self._hot is None or self._write_lock is None:
            async with self.write_connection() as conn:
                yield CoreRunner(conn)
            return
        async with self._write_lock.first() if first else self._write_lock:
            runner = await self._hot.runner("write")
            runner.info[AUDIT_KEY_INFO] = self._audit_key
            relaxed = not durable and self._hot.fsyncs
            if relaxed:
                runner.set_synchronous("normal")
            try:
                await runner.begin_immediate()
                try:
                    yield runner
                    await runner.commit(off_loop=not relaxed)  # no fsync: microseconds
                finally:
                    runner.rollback()  # a no-op after the commit
            finally:
                if relaxed:
                    runner.set_synchronous("full")
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


def open_database(
    url: str | None = None, *, echo: bool = False, synchronous: Synchronous = DEFAULT_SYNCHRONOUS
) -> Database:
    """A :class:`Database` for ``url`` (default: :func:`database_url`). Does no I/O.

    ``synchronous``: SQLite's ``PRAGMA synchronous`` on every connection (ignored on
    PostgreSQL, whose commits are durable by its own settings).
    """
    parsed = normalise_url(url or database_url())
    if parsed.get_backend_name() == "sqlite":
        if synchronous not in SYNCHRONOUS_MODES:
            raise ConfigError(f"SQLite synchronous must be one of {SYNCHRONOUS_MODES}")
        _prepare_sqlite_file(parsed)
        engine = create_async_engine(parsed, echo=echo)
        event.listen(engine.sync_engine, "connect", partial(_engine_pragmas, synchronous))
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        raw = _hot_connector(parsed)
        if raw is None:
            return Database(engine)
        hot = partial(_open_hot, raw, synchronous)
        return Database(engine, hot, commit_off_loop=synchronous == "full")
    engine = create_async_engine(parsed, echo=echo, pool_pre_ping=True)
    return Database(engine)
