"""Why the database cannot be used, in one line that says what to fix (never a traceback).

The first contact with the database (migrating or checking its revision) fails in a few ways a
newcomer meets: PostgreSQL is not running or the host is wrong, the role does not exist or its
password is wrong, the database was never created, the SQLite file cannot be opened.
:func:`database_trouble` names each one from the exception chain (the driver's SQLSTATE, the
socket error); :func:`named_database_errors` turns them into :class:`ConfigError`. The URL is
shown without its password.
"""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from kcgateway.errors import ConfigError

_FIX = "fix KCGW_DATABASE_URL"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, the driver error SQLAlchemy wraps, and their causes (each once)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        item = todo.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        orig = getattr(item, "orig", None)
        todo += [
            item.__cause__,
            item.__context__,
            orig if isinstance(orig, BaseException) else None,
        ]


def _by_sqlstate(state: str, url: URL, where: str) -> str | None:
    user, name = url.username or "(none)", url.database or "(none)"
    return {
        "28000": f"database role {user!r} is not allowed on {where}: create the role "
        f"(CREATE ROLE {user} LOGIN) or {_FIX}",
        "28P01": f"the password of database role {user!r} is wrong on {where}: {_FIX}",
        "3D000": f"database {name!r} does not exist on {where}: create it (createdb {name}) "
        f"or {_FIX}",
        "42501": f"database role {user!r} lacks a privilege on {name!r} at {where}: grant it "
        "(owner of the database, or CREATE on its schema)",
    }.get(state)


def _by_socket(exc: BaseException, where: str) -> str | None:
    if isinstance(exc, socket.gaierror):
        return f"the database host of {where} does not resolve: {_FIX}"
    if isinstance(exc, ConnectionRefusedError):
        return f"cannot reach the database at {where} (connection refused): start it or {_FIX}"
    if isinstance(exc, TimeoutError):
        return f"the database at {where} did not answer in time: check it is up, or {_FIX}"
    if isinstance(exc, OSError) and exc.strerror:
        return f"cannot reach the database at {where} ({exc.strerror}): {_FIX}"
    return None


def database_trouble(exc: BaseException, url: str) -> str | None:
    """One line naming what is wrong with the database at ``url``, or None if not known."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return f"KCGW_DATABASE_URL is not a database URL: {_FIX}"
    if parsed.get_backend_name() == "sqlite":
        where = parsed.database or "(memory)"
        if any(isinstance(e, sqlite3.OperationalError) for e in _chain(exc)):
            return (
                f"cannot open the SQLite database {where}: check its directory exists and is "
                "writable (KCGW_DATA_DIR)"
            )
        return None
    where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
    for item in _chain(exc):
        state = getattr(item, "sqlstate", None)
        found = _by_sqlstate(state, parsed, where) if isinstance(state, str) else None
        found = found or _by_socket(item, where)
        if found:
            return found
    return None


@contextmanager
def named_database_errors(url: str) -> Iterator[None]:
    """Turn a failure to reach or use the database at ``url`` into a one-line ConfigError."""
    try:
        yield
    except (DBAPIError, OSError, sqlite3.Error) as exc:
        message = database_trouble(exc, url)
        if message is None:
            raise
        raise ConfigError(message) from None
