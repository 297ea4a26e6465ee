"""``kcgateway keys kucoin-credentials``: the operator issues facade credentials, shown once."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from kcgateway.store.repositories import AccountRepository, TenantRepository
from kcgateway.store.tables import FacadeCredentialRow
from tests.kcgateway.commands.test_admin_cli import KEY, Cli, _in_db


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    for var in ("KCGW_KEK", "KCGW_KEK_FILE", "KCGW_KEK_SPEC", "KCGW_DATABASE_URL",
                "KCGW_EXCHANGE_URL", "KCGW_CONFIG", "KCGW_MODE"):  # fmt: skip
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return Cli({"KCGW_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "250"})


def _value(out: str, label: str) -> str:
    found = re.search(rf"^{label}:\s+(\S+)$", out, re.MULTILINE)
    assert found is not None, out
    return found.group(1)


def test_kucoin_credentials_are_shown_once_and_revoked_with_the_key(cli: Cli) -> None:
    cli.ok("tenants", "create", "acme")

    async def account(session: Any) -> None:
        tenant = await TenantRepository(session).by_name("acme")
        assert tenant is not None
        await AccountRepository(session).add(tenant.id, "main", now=datetime.now(UTC))

    _in_db(cli, account)
    out = cli.ok("keys", "create", "--tenant", "acme", "--owner", "bot", "--scope", "read")
    [key] = KEY.findall(out)
    key_id = key.split("_")[1]
    assert "no such account" in cli.fails("keys", "kucoin-credentials", key_id, "--account", "x")
    out = cli.ok("keys", "kucoin-credentials", key_id, "--account", "main")
    api_key, secret = _value(out, "apiKey"), _value(out, "secret")
    passphrase = _value(out, "passphrase")
    assert "shown once" in out and len(api_key) == 24
    cli.ok("keys", "revoke", key_id)

    async def rows(session: Any) -> list[FacadeCredentialRow]:
        return list((await session.scalars(select(FacadeCredentialRow))).all())

    (row,) = _in_db(cli, rows)
    assert row.api_key == api_key and row.revoked_at is not None
    assert secret not in str(row.sealed_fields) and passphrase not in str(row.sealed_fields)
