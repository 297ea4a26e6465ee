"""Database fixtures: the same tests run on SQLite (a fresh file) and on PostgreSQL.

PostgreSQL: one fresh database per test session (``kcgw_test_<random>``), dropped at the end;
each test using ``db`` gets its own schema in it (``search_path``), migrated for that test and
dropped after it, so tests never see each other's rows. Unreachable PostgreSQL skips locally
and fails in CI (``tests.conftest.services_required()``). Import the fixtures into a conftest::

    from tests.helpers.databases import db, pg_url  # noqa: F401
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import secrets
import weakref
from collections.abc import AsyncIterator, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
from sqlalchemy import event, text

from kcgateway.store.database import Database, open_database
from kcgateway.store.migrate import upgrade
from tests.conftest import services_required

PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_USERS = ("postgres", "root")
T = TypeVar("T")


def run_in_thread(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on a private loop in a worker thread (safe inside a running loop)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _find_user() -> str | None:
    for user in PG_USERS:
        try:
            conn = await asyncpg.connect(
                host=PG_HOST, port=PG_PORT, user=user, database="test", timeout=3
            )
        except (OSError, asyncpg.PostgresError, TimeoutError):
            continue
        await conn.close()
        return user
    return None


async def _admin(user: str, sql: str) -> None:
    conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=user, database="test")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _migrate(url: str) -> None:
    db = open_database(url)
    try:
        await upgrade(db.engine)
    finally:
        await db.aclose()


def postgres_user_or_skip() -> str:
    """The PostgreSQL user to connect as; skip (locally) or fail (CI) when unreachable."""
    user = run_in_thread(_find_user())
    if user is None:
        message = (
            f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT} (users {PG_USERS}, "
            "database test): start it to run the PostgreSQL half of the store tests"
        )
        if services_required():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return user


@pytest.fixture(scope="session")
def pg_database() -> Iterator[tuple[str, str]]:
    """(user, database name) of a fresh, migrated PostgreSQL database for this session."""
    user = postgres_user_or_skip()
    name = f"kcgw_test_{secrets.token_hex(6)}"
    run_in_thread(_admin(user, f'CREATE DATABASE "{name}"'))
    try:
        run_in_thread(_migrate(f"postgresql+asyncpg://{user}@{PG_HOST}:{PG_PORT}/{name}"))
        yield user, name
    finally:
        run_in_thread(_admin(user, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def pg_url(pg_database: tuple[str, str]) -> str:
    """SQLAlchemy URL of the session's PostgreSQL database."""
    user, name = pg_database
    return f"postgresql+asyncpg://{user}@{PG_HOST}:{PG_PORT}/{name}"


async def sqlite_database(path: Path) -> Database:
    """A migrated SQLite database in ``path``."""
    db = open_database(f"sqlite+aiosqlite:///{path}")
    await upgrade(db.engine)
    return db


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of a migrated database: a fresh SQLite file, or the session's PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'kcgateway.db'}"
        run_in_thread(_migrate(url))
        return url
    return str(request.getfixturevalue("pg_url"))


#: the private PostgreSQL schema of each Database the ``db`` fixture opened
_SCHEMAS: weakref.WeakKeyDictionary[Database, str] = weakref.WeakKeyDictionary()


def sibling(db: Database) -> Database:
    """Another :class:`Database` on ``db``'s data (its own engine and pools, as another
    gateway instance has): the same SQLite file, or the same PostgreSQL schema."""
    other = open_database(db.engine.url.render_as_string(hide_password=False))
    schema = _SCHEMAS.get(db)
    if schema is not None:
        _use_schema(other, schema)
    return other


def _use_schema(db: Database, schema: str) -> None:
    def set_path(dbapi_connection: Any, _record: object) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        cursor.execute(f'SET search_path TO "{schema}"')
        cursor.close()
        # SET is transactional: uncommitted, the pool's rollback on the connection's first
        # return undid it, and every later use of that connection wrote to the public schema
        # (tests saw each other's rows there, and unique keys did not collide as they must)
        dbapi_connection.commit()

    event.listen(db.engine.sync_engine, "connect", set_path)


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    """An open, migrated :class:`Database` on each engine, private to the test."""
    database = open_database(db_url)
    schema = None
    if not database.is_sqlite:
        schema = f"t_{secrets.token_hex(6)}"
        _use_schema(database, schema)
        _SCHEMAS[database] = schema
        await upgrade(database.engine)
    try:
        yield database
    finally:
        if schema is not None:
            async with database.engine.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await database.aclose()
