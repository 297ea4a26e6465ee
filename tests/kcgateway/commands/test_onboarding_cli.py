"""``kcgateway onboarding``: configure, show, and the attempts list (operator flags first)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kcgateway.cli import app
from kcgateway.store.database import open_database
from kcgateway.store.repositories import TenantRepository
from kcgateway.store.tables import OnboardingAttemptRow


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for var in ("KCGW_KEK", "KCGW_KEK_FILE", "KCGW_KEK_SPEC", "KCGW_DATABASE_URL",
                "KCGW_EXCHANGE_URL", "KCGW_CONFIG", "KCGW_MODE"):  # fmt: skip
        monkeypatch.delenv(var, raising=False)
    return {"KCGW_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "250"}


def _cli(env: dict[str, str], *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, ["onboarding", *args], env=env)
    assert result.exit_code == code, result.output
    return result.output


def _add_attempts(data: Path) -> None:
    async def run() -> None:
        db = open_database(f"sqlite+aiosqlite:///{data / 'kcgateway.db'}")
        now = datetime.now(UTC)
        try:
            async with db.write() as session:
                tenant = await TenantRepository(session).add("acme", now=now)
                for n, status in enumerate(("connected", "key_possibly_created", "started")):
                    session.add(OnboardingAttemptRow(
                        id=f"attempt{n}", tenant_id=tenant, account_name=f"a{n}", actor="k",
                        status=status, created_at=now - timedelta(hours=n),
                        expires_at=now - timedelta(hours=n) + timedelta(minutes=10),
                    ))  # fmt: skip
        finally:
            await db.aclose()

    asyncio.run(run())


def test_configure_show_and_attempts(env: dict[str, str]) -> None:
    assert "not configured" in _cli(env, "show", code=1)
    out = _cli(
        env, "configure", "--client-id", "cid-1",
        "--redirect-url", "https://gw.example/v1/onboarding/kucoin/callback",
    )  # fmt: skip
    assert "client cid-1" in out and "flexible transfer refused" in out
    assert "https://www.kucoin.com" in _cli(env, "show")
    _cli(env, "configure", "--client-id", "cid-1", "--redirect-url", "ftp://x", code=1)
    _add_attempts(Path(env["KCGW_DATA_DIR"]))
    listed = _cli(env, "attempts")
    assert listed.index("key_possibly_created") < listed.index("connected")
    assert "expired" in listed and " started " not in listed.split("reason")[1]  # never back


def test_broker_subaccounts_without_a_master(env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["tenants", "create", "acme"], env=env)
    assert result.exit_code == 0, result.output
    sub = ["broker", "subaccounts"]
    listed = CliRunner().invoke(app, [*sub, "list", "--tenant", "acme"], env=env)
    assert listed.exit_code == 0 and "ND sub-accounts of acme" in listed.output
    made = CliRunner().invoke(app, [*sub, "create", "--tenant", "acme", "--name", "s1"], env=env)
    assert made.exit_code == 1 and "no ND broker master account" in made.output
    unknown = CliRunner().invoke(app, [*sub, "master", "no-such-account"], env=env)
    assert unknown.exit_code == 1, unknown.output
