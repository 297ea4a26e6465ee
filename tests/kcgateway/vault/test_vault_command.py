from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kcgateway.cli import app
from kcgateway.store.credential_store import SqlCredentialStore
from kcgateway.store.database import open_database
from kcgateway.store.repositories import TenantRepository
from kcgateway.vault.kek import local_kek_from_file
from tests.kcgateway.vault.support import Plain

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("KCGW_KEK", "KCGW_KEK_FILE", "KCGW_KEK_SPEC", "KCGW_DATABASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("KCGW_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def test_init_kek_prints_where_never_the_key(env: Path) -> None:
    result = CliRunner().invoke(app, ["vault", "init-kek"])
    assert result.exit_code == 0, result.output
    path = env / "config" / "kcgateway" / "kek.key"
    assert str(path) in result.output and path.stat().st_mode & 0o777 == 0o600
    assert path.read_text().strip() not in result.output
    assert local_kek_from_file(path).kek_id in result.output
    again = CliRunner().invoke(app, ["vault", "init-kek"])
    assert again.exit_code == 1 and "never overwritten" in again.output


def test_rotate_without_a_kek_says_to_run_init_kek(env: Path) -> None:
    CliRunner().invoke(app, ["db", "upgrade"])
    result = CliRunner().invoke(app, ["vault", "rotate-kek", "--new", f"file:{env / 'x'}"])
    assert result.exit_code == 1
    assert "kcgateway vault init-kek" in result.output


def test_status_on_an_unmigrated_database_says_to_upgrade(env: Path) -> None:
    result = CliRunner().invoke(app, ["vault", "status"])
    assert result.exit_code == 1 and "kcgateway db upgrade" in result.output


def _seed(url: str, kek_path: Path, count: int) -> None:
    async def run() -> None:
        db = open_database(url)
        try:
            async with db.write() as s:
                tenant = await TenantRepository(s).add(f"cli-{uuid.uuid4().hex}", now=NOW)
            kek = local_kek_from_file(kek_path)
            for _ in range(count):
                cid = str(uuid.uuid4())
                record = Plain.generate().seal(tenant_id=tenant, credential_id=cid, kek=kek)
                await SqlCredentialStore(db).add(record, now=NOW)
        finally:
            await db.aclose()

    asyncio.run(run())


def test_rotate_kek_end_to_end(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    old, new = env / "old.key", env / "new.key"
    assert runner.invoke(app, ["vault", "init-kek", "--path", str(old)]).exit_code == 0
    assert runner.invoke(app, ["vault", "init-kek", "--path", str(new)]).exit_code == 0
    url = f"sqlite:///{env / 'cli.db'}"
    assert runner.invoke(app, ["db", "upgrade", "--url", url]).exit_code == 0
    assert "no stored credentials" in runner.invoke(app, ["vault", "status", "--url", url]).output
    _seed(url, old, 7)
    monkeypatch.setenv("KCGW_KEK_FILE", str(old))
    old_id, new_id = local_kek_from_file(old).kek_id, local_kek_from_file(new).kek_id
    assert f"{old_id}\t7" in runner.invoke(app, ["vault", "status", "--url", url]).output
    args = ["vault", "rotate-kek", "--new", f"file:{new}", "--url", url, "--batch-size", "3"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"7 of 7 data keys rewrapped; all on {new_id}" in result.output
    status = runner.invoke(app, ["vault", "status", "--url", url]).output
    assert f"{new_id}\t7" in status and old_id not in status
    rerun = runner.invoke(app, [*args, "--old", f"file:{old}"])
    assert rerun.exit_code == 0 and "0 of 0 data keys rewrapped" in rerun.output
    bad = runner.invoke(app, ["vault", "rotate-kek", "--new", "bogus", "--url", url])
    assert bad.exit_code == 1 and "unknown KEK spec" in bad.output
