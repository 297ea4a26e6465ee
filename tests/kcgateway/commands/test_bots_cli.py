"""``kcgateway bots`` and ``kcgateway signals``: the operator manages bots (issue 17).

Runs the real commands over a temporary SQLite data directory. Fails on main: there is no
``bots`` command.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from kcgateway.store.signal_tables import BotRow, BotSecretRow
from kcgateway.store.tables import AuditRecord
from tests.kcgateway.commands.test_admin_cli import Cli, _in_db
from tests.kcgateway.commands.test_risk_cli import _account

BOT = ["--tenant", "acme"]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """The same clean environment as test_admin_cli's ``cli``."""
    for var in ("KCGW_KEK", "KCGW_KEK_FILE", "KCGW_KEK_SPEC", "KCGW_DATABASE_URL",
                "KCGW_EXCHANGE_URL", "KCGW_CONFIG", "KCGW_MODE"):  # fmt: skip
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    return Cli({"KCGW_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "250"})


def test_create_list_pause_promote_rotate_delete(cli: Cli) -> None:
    cli.ok("tenants", "create", "acme")
    _account(cli, "acme", "main")
    _account(cli, "acme", "paper")
    out = cli.ok(
        "bots", "create", *BOT, "--name", "trend", "--account", "main", "--symbol", "BTC-USDT",
        "--profile", "tradingview", "--size", "0.001", "--max-position", "0.01",
    )  # fmt: skip
    assert "paper" in out and "signal URL path: /v1/signals/" in out
    secret = out.split("keep it in the sender only):\n")[1].split()[0]
    assert len(secret) >= 40 and "URL token" in out
    assert "trend" in cli.ok("bots", "list", *BOT)
    assert "paused" in cli.ok("bots", "pause", *BOT, "trend")
    assert "active" in cli.ok("bots", "resume", *BOT, "trend")
    assert "live" in cli.ok("bots", "promote", *BOT, "trend")
    assert "already live" in cli.fails("bots", "promote", *BOT, "trend")
    assert "new signal secret" in cli.ok("bots", "rotate-secret", *BOT, "trend", "--overlap-s", "0")
    assert "no signals" in cli.ok("signals", "list", *BOT)
    cli.ok("bots", "delete", *BOT, "trend")
    assert "no bots" in cli.ok("bots", "list", *BOT)
    assert "no such bot" in cli.fails("bots", "pause", *BOT, "trend")

    async def stored(session: object) -> tuple[list[str], int, bool]:
        rows = (await session.scalars(select(AuditRecord.action))).all()  # type: ignore[attr-defined]
        secrets = (await session.scalars(select(BotSecretRow))).all()  # type: ignore[attr-defined]
        bot = await session.scalar(select(BotRow))  # type: ignore[attr-defined]
        return (
            [a for a in rows if a.startswith("bot.")],
            len(secrets),
            secret.encode()
            in (b"".join(s.ciphertext for s in secrets) + bot.url_token_hash.encode()),
        )

    actions, sealed, in_clear = _in_db(cli, stored)
    assert actions == [
        "bot.created", "bot.changed", "bot.changed", "bot.promoted", "bot.secret_rotated",
        "bot.deleted",
    ]  # fmt: skip
    assert sealed == 2 and not in_clear


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--size", "1", "--quote", "5"], "exactly one of"),
        (["--size", "x"], "decimal number"),
        (["--size", "1", "--profile", "nope"], "standard, tradingview or 3commas"),
    ],
)
def test_bad_options_say_what_to_fix(cli: Cli, args: list[str], message: str) -> None:
    cli.ok("tenants", "create", "acme")
    base = ["bots", "create", *BOT, "--name", "b", "--account", "main", "--symbol", "BTC-USDT",
            "--max-position", "1"]  # fmt: skip
    if "--profile" not in args:
        args = [*args, "--profile", "standard"]
    assert re.search(message, cli.fails(*base, *args))
