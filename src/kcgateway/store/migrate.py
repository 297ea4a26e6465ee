"""Alembic, driven from code: the migration scripts ship inside this package.

``kcgateway db upgrade`` calls :func:`upgrade`; the service calls :func:`ensure_migrated` at
start and refuses to run on a database that is not at the head revision.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from kcgateway.errors import ConfigError
from kcgateway.store.database import safe_url

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    """An in-memory Alembic config pointing at the packaged migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest migration revision the code expects."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise ConfigError("no migrations found in the kcgateway package")
    return head


def _upgrade(connection: Connection, revision: str) -> None:
    command.upgrade(alembic_config(connection), revision)


def _downgrade(connection: Connection, revision: str) -> None:
    command.downgrade(alembic_config(connection), revision)


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` in one transaction."""
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade, revision)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Revert migrations down to ``revision`` (``"base"`` drops everything)."""
    async with engine.begin() as conn:
        await conn.run_sync(_downgrade, revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at (None when it was never migrated)."""
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


async def ensure_migrated(engine: AsyncEngine) -> None:
    """Raise :class:`ConfigError` naming the command to run unless the database is at head."""
    current = await current_revision(engine)
    head = head_revision()
    if current != head:
        raise ConfigError(
            f"the database {safe_url(engine.url)} is at revision {current or 'none'} but this "
            f"version of kcgateway needs {head}: run `kcgateway db upgrade` (add --url if the "
            "database is not the default one)"
        )
