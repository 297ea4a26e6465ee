"""``kcgateway risk``: halt, resume, status, block and limits as the operator (issue 13).

Runs the real command over a temporary SQLite data directory; every change is then checked in
the database through a fresh RiskControl (what a running gateway would load) and in the audit
log. Fails on main: there is no ``risk`` command.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from kcgateway.gateway.risk_control import RiskControl
from kcgateway.risk import TradingState, TradingStates
from kcgateway.store.database import open_database
from kcgateway.store.repositories import AccountRepository
from kcgateway.store.tables import AuditRecord, Tenant
from tests.kcgateway.commands.test_admin_cli import Cli, _in_db


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """The same clean environment as test_admin_cli's ``cli``."""
    for var in ("KCGW_KEK", "KCGW_KEK_FILE", "KCGW_KEK_SPEC", "KCGW_DATABASE_URL",
                "KCGW_EXCHANGE_URL", "KCGW_CONFIG", "KCGW_MODE"):  # fmt: skip
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    return Cli({"KCGW_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "250"})


def _url(cli: Cli) -> str:
    return f"sqlite+aiosqlite:///{cli.env['KCGW_DATA_DIR']}/kcgateway.db"


def _account(cli: Cli, tenant_name: str, name: str) -> tuple[str, str]:
    async def work(session: Any) -> tuple[str, str]:
        tenant = await session.scalar(select(Tenant).where(Tenant.name == tenant_name))
        account = await AccountRepository(session).add(tenant.id, name, now=datetime.now(UTC))
        return tenant.id, account

    result: tuple[str, str] = _in_db(cli, work)
    return result


def _loaded(
    cli: Cli, ids: tuple[str, str]
) -> tuple[TradingStates, Any, list[tuple[str, str, str]]]:
    """states_for / limits_for of (tenant, account) from a fresh service, and the risk audit."""

    async def run() -> tuple[TradingStates, Any, list[tuple[str, str, str]]]:
        async with open_database(_url(cli)) as db:
            risk = RiskControl(db)
            await risk.load()
            async with db.read() as session:
                rows = (await session.scalars(select(AuditRecord).order_by(AuditRecord.seq))).all()
            audit = [
                (r.action, r.actor, str(r.detail.get("reason")))
                for r in rows
                if r.action.startswith("risk.")
            ]
            return risk.states_for(ids[0], ids[1], "k"), risk.limits_for(ids[0], ids[1], "k"), audit

    return asyncio.run(run())


def test_halt_status_resume_round_trip(cli: Cli) -> None:
    cli.ok("tenants", "create", "acme")
    tenant_id, account_id = _account(cli, "acme", "main")
    ids = (tenant_id, account_id)

    out = cli.ok("risk", "halt", "account", "main", "--tenant", "acme", "--reason", "leaked key")
    assert f"account {account_id} is halted" in out
    cli.ok("risk", "halt", "gateway", "--reason", "exchange incident")
    status = cli.ok("risk", "status")
    assert "gateway" in status and account_id in status and "leaked key" in status
    states, _, audit = _loaded(cli, ids)
    assert states == TradingStates(gateway=TradingState.HALTED, account=TradingState.HALTED)

    assert cli.fails("risk", "resume", "account", account_id, code=2)  # --reason is required
    assert "reason" in cli.fails("risk", "resume", "account", account_id, "--reason", "  ")
    out = cli.ok("risk", "resume", "account", account_id, "--reason", "rotated")
    assert "is active" in out
    cli.ok("risk", "resume", "gateway", "--reason", "over")
    assert "every level is active" in cli.ok("risk", "status")
    states, _, audit = _loaded(cli, ids)
    assert states == TradingStates()
    assert audit == [
        ("risk.halted", "cli", "leaked key"),
        ("risk.halted", "cli", "exchange incident"),
        ("risk.resumed", "cli", "rotated"),
        ("risk.resumed", "cli", "over"),
    ]


def test_errors_are_clear_with_exit_codes(cli: Cli) -> None:
    cli.ok("tenants", "create", "acme")
    assert cli.fails("risk", "halt", "desk", "x", "--reason", "r", code=2)  # not a level
    missing = cli.fails("risk", "halt", "account", "main", "--reason", "r")
    assert "no such account 'main'" in missing and "--tenant" in missing
    assert "no such key 'nope'" in cli.fails("risk", "halt", "key", "nope", "--reason", "r")
    assert "not blocked" in cli.fails("risk", "unblock", "ABC-USDT", "--reason", "r")
    assert "unknown limit 'maxNotional'" in cli.fails(
        "risk", "limits", "set", "tenant", "acme", "--reason", "r", "--set", "maxNotional=5",
        code=2,
    )  # fmt: skip
    assert "must be a decimal" in cli.fails(
        "risk", "limits", "set", "tenant", "acme", "--reason", "r",
        "--set", "maxOrderNotional=1e3", code=2,
    )  # fmt: skip
    assert "at most 100" in cli.fails(
        "risk", "limits", "set", "tenant", "acme", "--reason", "r", "--set", "priceCollarPct=120"
    )


def test_limits_set_show_and_block(cli: Cli) -> None:
    cli.ok("tenants", "create", "acme")
    tenant_id, account_id = _account(cli, "acme", "main")
    ids = (tenant_id, account_id)
    out = cli.ok(
        "risk", "limits", "set", "tenant", "acme", "--reason", "trial",
        "--set", "maxOrderNotional=2500.5", "--set", "dailyOrders=40",
        "--set", "symbolDeny=doge-usdt,shib-usdt",
    )  # fmt: skip
    assert "2500.5" in out and "DOGE-USDT,SHIB-USDT" in out
    cli.ok("risk", "limits", "set", "tenant", "acme", "--reason", "more", "--unset", "dailyOrders")
    shown = cli.ok("risk", "limits", "show", "tenant", "acme")
    assert "set by cli: more" in shown and "2500.5" in shown
    assert "blocked: PUMP-USDT" in cli.ok("risk", "block", "pump-usdt", "--reason", "burst")
    _, limits, audit = _loaded(cli, ids)
    assert limits.max_order_notional == Decimal("2500.5")
    assert limits.daily_orders == 20_000  # unset again: the gateway default
    assert limits.symbol_deny == frozenset({"DOGE-USDT", "SHIB-USDT", "PUMP-USDT"})
    assert [a[0] for a in audit] == ["risk.limits_set", "risk.limits_set", "risk.symbol_blocked"]
    assert "PUMP-USDT" in cli.ok("risk", "status")
    assert "unblocked" in cli.ok("risk", "unblock", "PUMP-USDT", "--reason", "calm")
