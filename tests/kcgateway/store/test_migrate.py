from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from typer.testing import CliRunner

from kcgateway.cli import app
from kcgateway.errors import ConfigError
from kcgateway.store.database import Database, open_database
from kcgateway.store.migrate import (
    current_revision,
    downgrade,
    ensure_migrated,
    head_revision,
    upgrade,
)
from kcgateway.store.tables import Base

TABLES = {
    "tenants",
    "exchange_accounts",
    "credentials",
    "gateway_keys",
    "order_intents",
    "audit_records",
    "idempotency_records",
}


def _diff(conn: Connection) -> list[object]:
    ctx = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(ctx, Base.metadata))


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


async def test_the_migration_builds_exactly_the_models(db: Database) -> None:
    async with db.engine.connect() as conn:
        assert await conn.run_sync(_diff) == []
        assert await conn.run_sync(_tables) >= TABLES
    assert await current_revision(db.engine) == head_revision()
    await ensure_migrated(db.engine)


async def test_an_unmigrated_database_is_refused_with_the_command_to_run(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'new.db'}")
    try:
        with pytest.raises(ConfigError, match="run `kcgateway db upgrade`") as info:
            await ensure_migrated(db.engine)
        assert "revision none" in str(info.value)
        await upgrade(db.engine)
        await ensure_migrated(db.engine)
        await downgrade(db.engine, "base")  # the downgrade works too
        async with db.engine.connect() as conn:
            assert not TABLES & await conn.run_sync(_tables)
        with pytest.raises(ConfigError):
            await ensure_migrated(db.engine)
    finally:
        await db.aclose()


def test_migrations_ship_inside_the_package() -> None:
    package = resources.files("kcgateway.store.migrations")
    assert package.joinpath("env.py").is_file()
    assert package.joinpath("versions", "0001_initial.py").is_file()


def test_db_commands_upgrade_and_report_status(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    before = runner.invoke(app, ["db", "status", "--url", url])
    assert before.exit_code == 1 and "run `kcgateway db upgrade`" in before.output
    done = runner.invoke(app, ["db", "upgrade", "--url", url])
    assert done.exit_code == 0, done.output
    assert f"revision {head_revision()}" in done.output
    after = runner.invoke(app, ["db", "status", "--url", url])
    assert after.exit_code == 0 and "run `kcgateway db upgrade`" not in after.output
    bad = runner.invoke(app, ["db", "upgrade", "--url", "mysql://x@y/z"])
    assert bad.exit_code == 1 and "unsupported database" in bad.output
    bad_status = runner.invoke(app, ["db", "status", "--url", "mysql://x@y/z"])
    assert bad_status.exit_code == 1


def test_default_database_lives_in_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KCGW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("KCGW_DATABASE_URL", raising=False)
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "data" / "kcgateway.db").is_file()
