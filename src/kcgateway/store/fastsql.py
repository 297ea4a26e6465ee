"""Prebuilt Core statements run straight on SQLite's DB-API connection: the order hot path.

Why: an order makes three short transactions (the key row; the intent plus its audit records;
the outcome plus its audit record). Through SQLAlchemy each statement costs 0.3-0.4 ms of CPU
in the execution context, the async adapter and result objects, against some 20-60 us in
SQLite itself (``bench/profile_gateway_phases.py``): most of the gateway's added latency.

What: a :class:`Prepared` wraps a Core statement built once. It is compiled once per dialect
and parameter set by SQLAlchemy's own compiler, with SQLAlchemy's own bind and result
processors for each column type (``Money`` as exact text, ``UtcDateTime``, JSON, enums): a
value goes in and comes out exactly as through the engine. Nothing is written twice: the SQL
is the Core statement, and one code path serves both engines through a :class:`Runner`:

- :class:`SqliteRunner` runs the compiled SQL on a raw ``sqlite3`` connection that kcgateway
  opens and owns (the standard library's public API): statements inline on the event loop
  thread (microseconds: they only touch SQLite's page cache), ``COMMIT`` on one dedicated
  thread, because with ``synchronous=FULL`` a commit waits for an fsync of the WAL
  (0.4 ms typical, 8 ms at p99 on a loaded machine) and the loop must keep serving meanwhile;
- :class:`CoreRunner` hands the same statement to an SQLAlchemy session or connection
  (PostgreSQL, and any caller that already holds a session).

What it reads of SQLAlchemy: ``ClauseElement.compile(dialect=..., column_keys=...)``, then
the :class:`~sqlalchemy.sql.compiler.SQLCompiler` attributes ``string``, ``positional``,
``positiontup``, ``binds``, ``insert_prefetch``, ``update_prefetch`` and
``literal_execute_params`` (each documented with a docstring in SQLAlchemy's "Core Internals"
reference: public, but internals-level, hence the ``<2.2`` bound in pyproject and the tests of
test_fastsql.py that fail loudly if they change), and ``TypeEngine.dialect_impl()`` with
``bind_processor()``/``result_processor()`` (the public custom-type API).

Statements whose execution needs SQLAlchemy itself are refused when compiled: Python-side
column defaults (computed at execution), expanding ``IN`` parameters, missing required
parameters. Those stay on the engine.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

Row = dict[str, Any]
_Processor = Callable[[Any], Any] | None
T = TypeVar("T")

SQLITE_BUSY = 5
_FIRST_WAIT_S = 0.001
_MAX_WAIT_S = 0.05


@dataclass(frozen=True, slots=True)
class _Compiled:
    """One statement as SQLite runs it: SQL, where each parameter comes from, result columns."""

    sql: str
    #: per ``?``: the caller's parameter name (or None for a constant) and its processor
    params: tuple[tuple[str | None, Any, _Processor], ...]
    #: per result column: its key and result processor
    columns: tuple[tuple[str, _Processor], ...]


class Prepared:
    """A Core statement built once, runnable by any :class:`Runner`."""

    __slots__ = ("_compiled", "statement")

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[tuple[int, frozenset[str]], _Compiled] = {}

    def __repr__(self) -> str:
        return f"Prepared({type(self.statement).__name__})"

    def compiled(self, dialect: Dialect, keys: frozenset[str]) -> _Compiled:
        """The statement compiled for ``dialect`` and the parameter names ``keys`` (cached)."""
        cache_key = (id(dialect), keys)
        found = self._compiled.get(cache_key)
        if found is None:
            found = self._compiled[cache_key] = _compile(self.statement, dialect, keys)
        return found


def _compile(statement: Executable, dialect: Dialect, keys: frozenset[str]) -> _Compiled:
    compiled = cast(ClauseElement, statement).compile(dialect=dialect, column_keys=sorted(keys))
    if not isinstance(compiled, SQLCompiler) or not compiled.positional:
        raise ValueError("the fast path runs positional (qmark) SQL only")
    if compiled.insert_prefetch or compiled.update_prefetch or compiled.literal_execute_params:
        raise ValueError(f"{statement!r} needs SQLAlchemy to execute (defaults or IN lists)")
    if "__[POSTCOMPILE" in compiled.string:
        raise ValueError(f"{statement!r} has expanding parameters")
    params: list[tuple[str | None, Any, _Processor]] = []
    for name in compiled.positiontup or ():
        bind = compiled.binds[name]
        processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if name in keys:
            params.append((name, None, processor))
        elif bind.required or bind.callable is not None:
            raise ValueError(f"parameter {name!r} is required")
        else:  # a constant built into the statement (LIMIT 1)
            params.append((None, bind.value, processor))
    columns = []  # a SELECT's columns, a DML statement's RETURNING (none without it)
    for column in getattr(statement, "exported_columns", ()):
        impl = column.type.dialect_impl(dialect)
        columns.append((str(column.key), impl.result_processor(dialect, None)))
    return _Compiled(compiled.string, tuple(params), tuple(columns))


class Runner(Protocol):
    """Runs :class:`Prepared` statements inside whatever transaction its owner opened."""

    @property
    def dialect_name(self) -> str:
        """``sqlite`` or ``postgresql``."""
        ...

    @property
    def info(self) -> dict[str, Any]:
        """State carried with the connection (as SQLAlchemy's ``info``): the audit key."""
        ...

    async def rows(self, prepared: Prepared, params: Mapping[str, Any]) -> list[Row]:
        """Execute once; the result rows as dicts by column key (empty if it returns none)."""
        ...

    async def many(self, prepared: Prepared, params: Sequence[Mapping[str, Any]]) -> None:
        """Execute once per parameter set (an INSERT of several rows)."""
        ...


class CoreRunner:
    """A :class:`Runner` over an SQLAlchemy session or connection (the engine does the work)."""

    __slots__ = ("_ex",)

    def __init__(self, ex: AsyncSession | AsyncConnection) -> None:
        self._ex = ex

    @property
    def dialect_name(self) -> str:
        """The bound engine's dialect."""
        if isinstance(self._ex, AsyncConnection):
            return self._ex.dialect.name
        return self._ex.get_bind().dialect.name

    @property
    def info(self) -> dict[str, Any]:
        """The session's or connection's own ``info`` dictionary."""
        return self._ex.info

    async def rows(self, prepared: Prepared, params: Mapping[str, Any]) -> list[Row]:
        """Through ``execute``."""
        result = await self._ex.execute(prepared.statement, dict(params))
        returns_rows = getattr(result, "returns_rows", True)  # False: DML without RETURNING
        return [dict(row._mapping) for row in result] if returns_rows else []

    async def many(self, prepared: Prepared, params: Sequence[Mapping[str, Any]]) -> None:
        """Through ``execute`` with a list (executemany)."""
        if params:
            await self._ex.execute(prepared.statement, [dict(p) for p in params])


class SqliteRunner:
    """A :class:`Runner` on a raw ``sqlite3`` connection, run inline on the calling thread.

    ``busy_budget_s``: how long a statement that meets another process's lock is retried (with
    ``asyncio.sleep`` between tries, see :func:`run_busy`). ``commit_thread``: where
    :meth:`commit` runs (its fsync); None runs it inline. The connection must then be opened
    with ``check_same_thread=False`` (see :func:`connector`); its owner makes sure only one
    task uses it at a time (the write lock of :class:`~.database.Database`).
    """

    __slots__ = ("_busy_budget_s", "_commit_thread", "_conn", "_dialect", "info")

    dialect_name = "sqlite"

    def __init__(
        self,
        conn: sqlite3.Connection,
        dialect: Dialect,
        busy_budget_s: float,
        commit_thread: Executor | None = None,
    ) -> None:
        self.info: dict[str, Any] = {}
        self._conn = conn
        self._dialect = dialect
        self._busy_budget_s = busy_budget_s
        self._commit_thread = commit_thread

    async def rows(self, prepared: Prepared, params: Mapping[str, Any]) -> list[Row]:
        """Bind, execute, fetch and convert, as the engine would."""
        compiled = prepared.compiled(self._dialect, frozenset(params))
        args = _bind(compiled, params)
        cursor = await run_busy(lambda: self._conn.execute(compiled.sql, args), self._busy_budget_s)
        try:
            fetched = cursor.fetchall()
        finally:
            cursor.close()
        return [_row(compiled.columns, values) for values in fetched]

    async def many(self, prepared: Prepared, params: Sequence[Mapping[str, Any]]) -> None:
        """``executemany`` (every parameter set must name the same keys)."""
        if not params:
            return
        compiled = prepared.compiled(self._dialect, frozenset(params[0]))
        args = [_bind(compiled, p) for p in params]
        await run_busy(lambda: self._conn.executemany(compiled.sql, args), self._busy_budget_s)

    async def begin_immediate(self) -> None:
        """Start a write transaction (waiting, busy-retried, for another process's lock)."""
        await run_busy(lambda: self._conn.execute("BEGIN IMMEDIATE"), self._busy_budget_s)

    async def commit(self, *, off_loop: bool = True) -> None:
        """Commit the open transaction (on the commit thread, if any, unless not ``off_loop``).

        A task cancelled while the commit runs still waits for it to end (and then re-raises
        the cancellation): the connection is never touched by two threads at once, and the
        commit's outcome stands either way.
        """
        thread = self._commit_thread if off_loop else None
        await run_busy(self._conn.commit, self._busy_budget_s, thread)

    def set_synchronous(self, mode: str) -> None:
        """``PRAGMA synchronous`` for this connection's next transactions (outside one)."""
        if mode not in ("full", "normal"):
            raise ValueError(f"unknown synchronous mode {mode!r}")
        self._conn.execute(f"PRAGMA synchronous={mode.upper()}").close()

    def rollback(self) -> None:
        """Roll the open transaction back (nothing if none is open). Never suspends."""
        if self._conn.in_transaction:
            self._conn.rollback()

    def close(self) -> None:
        """Close the connection (an open transaction is rolled back)."""
        self._conn.close()


def _row(columns: tuple[tuple[str, _Processor], ...], values: Sequence[Any]) -> Row:
    return {
        key: value if processor is None else processor(value)
        for (key, processor), value in zip(columns, values, strict=True)
    }


def _bind(compiled: _Compiled, params: Mapping[str, Any]) -> list[Any]:
    args = []
    for name, constant, processor in compiled.params:
        value = constant if name is None else params[name]
        args.append(value if processor is None else processor(value))
    return args


def is_busy(exc: sqlite3.OperationalError) -> bool:
    """True for a plain SQLITE_BUSY (a lock another connection holds), not BUSY_SNAPSHOT."""
    return getattr(exc, "sqlite_errorcode", None) == SQLITE_BUSY


async def run_busy(function: Callable[[], T], budget_s: float, thread: Executor | None = None) -> T:
    """``function()`` now, retried with ``asyncio.sleep`` backoff while it meets SQLITE_BUSY.

    Why: the hot path's connections run with ``busy_timeout=0`` (SQLite's own busy wait would
    block the event loop), so waiting for a lock another process holds (a CLI command
    writing) happens here. A busy statement had no effect, so retrying it is what SQLite's own
    busy handler does. ``SQLITE_BUSY_SNAPSHOT`` (a stale read snapshot that wants to write) is
    never retried: it cannot succeed.

    Gives up (re-raising the busy error) once ``budget_s`` has passed since the first busy try.
    Inline (``thread`` None) it returns without ever suspending when the first try succeeds;
    with ``thread`` each try runs there and is waited for to its end (see :func:`_to_the_end`).
    """
    deadline: float | None = None
    wait = _FIRST_WAIT_S
    while True:
        try:
            if thread is None:
                return function()
            return await _to_the_end(asyncio.get_running_loop().run_in_executor(thread, function))
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


async def _to_the_end(running: asyncio.Future[T]) -> T:
    """The result of ``running`` (a call on another thread), even if we are cancelled meanwhile.

    A cancellation that arrives while the call runs is re-raised once it has ended: until then
    the caller must not use the connection (nor roll back under a running commit).
    """
    cancelled: asyncio.CancelledError | None = None
    while not running.done():
        try:
            await asyncio.shield(running)
        except asyncio.CancelledError as exc:
            if not running.cancelled():  # ours, not the call's
                cancelled = exc
        except BaseException:  # noqa: S110 - the call's own error: raised by result() below
            pass
    if cancelled is not None:
        raise cancelled
    return running.result()


def connector(database: str, **kwargs: Any) -> Callable[[], sqlite3.Connection]:
    """A function opening ``database`` (SQLAlchemy's connect arguments) for the hot path.

    No busy wait inside SQLite (``timeout=0``: :func:`run_busy` waits instead), usable from
    the commit thread as well as the loop's (``check_same_thread=False``), and no implicit
    transactions (``isolation_level=None``: :class:`SqliteRunner` emits ``BEGIN IMMEDIATE``).
    """
    options = {**kwargs, "timeout": 0, "check_same_thread": False, "isolation_level": None}
    open_: Callable[..., sqlite3.Connection] = sqlite3.connect

    def connect() -> sqlite3.Connection:
        return open_(database, **options)

    return connect
