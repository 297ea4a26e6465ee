"""A fresh, migrated database per test: a SQLite file, or its own PostgreSQL database.

(A database of its own rather than a schema in a shared one: the gateway keeps many pooled
connections, and a per-connection ``search_path`` does not survive connection resets.)
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import leaksuite
from tests.helpers.cluster import instances  # noqa: F401 - two gateways on one database
from tests.helpers.databases import (
    PG_HOST,
    PG_PORT,
    _admin,
    _migrate,
    postgres_user_or_skip,
    run_in_thread,
)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fresh_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a migrated, empty database that only this test uses."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
        run_in_thread(_migrate(url))
        yield url
        return
    user = postgres_user_or_skip()
    name = f"kcgw_gw_{secrets.token_hex(6)}"
    run_in_thread(_admin(user, f'CREATE DATABASE "{name}"'))
    url = f"postgresql+asyncpg://{user}@{PG_HOST}:{PG_PORT}/{name}"
    try:
        run_in_thread(_migrate(url))
        yield url
    finally:
        run_in_thread(_admin(user, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def pytest_configure(config: pytest.Config) -> None:
    """Every test here runs under the suite-wide leak scan (tests/helpers/leaksuite.py)."""
    leaksuite.activate(config, Path(__file__).parent)
