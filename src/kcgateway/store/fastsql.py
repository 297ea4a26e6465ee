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

- :class:`SqliteRunner` runs the compiled SQL on a raw ``sqlite3`` connection, inline on the
  event loop thread (as :mod:`.inline_sqlite` does for the engine), retrying ``SQLITE_BUSY``;
- :class:`CoreRunner` hands the same statement to an SQLAlchemy session or connection
  (PostgreSQL, and any caller that already holds a session).

Statements whose execution needs SQLAlchemy itself are refused when compiled: Python-side
column defaults (computed at execution), expanding ``IN`` parameters, missing required
parameters. Those stay on the engine.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

from sqlalchemy import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

from kcgateway.store.inline_sqlite import run_busy

Row = dict[str, Any]
_Processor = Callable[[Any], Any] | None


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
    ``asyncio.sleep`` between tries, see :func:`.inline_sqlite.run_busy`).
    """

    __slots__ = ("_busy_budget_s", "_conn", "_dialect", "info")

    dialect_name = "sqlite"

    def __init__(self, conn: sqlite3.Connection, dialect: Dialect, busy_budget_s: float) -> None:
        self.info: dict[str, Any] = {}
        self._conn = conn
        self._dialect = dialect
        self._busy_budget_s = busy_budget_s

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

    async def commit(self) -> None:
        """Commit the open transaction."""
        await run_busy(self._conn.commit, self._busy_budget_s)

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
