"""The administration CLI over a temporary SQLite data directory (dev mode, created on use).

`accounts add` talks to a real simulator served from a background thread (the CLI runs its own
event loop). Every test checks exit codes and output, and that no secret is printed except the
newly issued gateway key, once.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
from click.testing import Result
from sqlalchemy import update
from typer.testing import CliRunner

from kcgateway.cli import app
from kcgateway.devmode import EmbeddedSim
from kcgateway.store.database import open_database
from kcgateway.store.ledger import NewIntent, OrderIntentRepository
from kcgateway.store.repositories import AccountRepository, TenantRepository
from kcgateway.store.tables import OrderIntent
from kcgateway.store.types import OrderState

T = TypeVar("T")
KEY = re.compile(r"^kgw_\S+$", re.MULTILINE)


@dataclass
class Cli:
    """Runs `kcgateway ...` and remembers every output, to check for leaks at the end."""

    env: dict[str, str]
    outputs: list[str] = field(default_factory=list)

    def __call__(self, *args: str, **env: str) -> Result:
        result = CliRunner().invoke(app, list(args), env={**self.env, **env})
        self.outputs.append(result.output)
        return result

    def ok(self, *args: str, **env: str) -> str:
        result = self(*args, **env)
        assert result.exit_code == 0, result.output
        return result.output

    def fails(self, *args: str, code: int = 1, **env: str) -> str:
        result = self(*args, **env)
        assert result.exit_code == code, result.output
        return result.output

    def never_shown(self, *values: str) -> None:
        text = "\n".join(self.outputs)
        for value in values:
            assert value not in text


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    for var in ("KCGW_KEK", "KCGW_KEK_FILE", "KCGW_KEK_SPEC", "KCGW_DATABASE_URL",
                "KCGW_EXCHANGE_URL", "KCGW_CONFIG", "KCGW_MODE", "KUCOIN_API_KEY",
                "KUCOIN_API_SECRET", "KUCOIN_API_PASSPHRASE", "KUCOIN_BROKER_KEY"):  # fmt: skip
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    return Cli({"KCGW_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "250"})


class ThreadedSim:
    """The simulator on its own event loop in a thread, so the CLI can run asyncio.run."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.sim: EmbeddedSim = self.call(lambda: EmbeddedSim.start(seed=5, tick_ms=0))

    def call(self, make: Callable[[], Any]) -> Any:
        async def run() -> Any:
            result = make()
            return await result if asyncio.iscoroutine(result) else result

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(30)

    def account(self, **spec: Any) -> dict[str, Any]:
        full = {"secret": secrets.token_hex(16), "passphrase": secrets.token_hex(8), **spec}
        made: dict[str, Any] = self.call(lambda: self.sim.create_account(full))
        return made

    def close(self) -> None:
        self.call(self.sim.aclose)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def sim() -> Iterator[ThreadedSim]:
    threaded = ThreadedSim()
    try:
        yield threaded
    finally:
        threaded.close()


def _kucoin_env(account: dict[str, Any]) -> dict[str, str]:
    return {
        "KUCOIN_API_KEY": account["apiKey"],
        "KUCOIN_API_SECRET": account["secret"],
        "KUCOIN_API_PASSPHRASE": account["passphrase"],
    }


def _in_db(cli: Cli, work: Callable[[Any], Any]) -> Any:
    async def run() -> Any:
        url = f"sqlite+aiosqlite:///{cli.env['KCGW_DATA_DIR']}/kcgateway.db"
        async with open_database(url) as db, db.write() as session:
            return await work(session)

    return asyncio.run(run())


def test_tenants_create_and_list(cli: Cli) -> None:
    assert "no tenants yet" in cli.ok("tenants", "list")
    out = cli.ok("tenants", "create", "acme")
    assert "created tenant acme" in out and "keys create-admin --tenant acme" in out
    assert "exists" in cli.fails("tenants", "create", "acme")
    assert "empty" in cli.fails("tenants", "create", "   ")
    cli.ok("tenants", "create", "beta")
    listed = cli.ok("tenants", "list")
    assert listed.index("acme") < listed.index("beta")
    assert cli.fails("tenants", "create", code=2)  # usage: the name is missing


def test_keys_create_list_rotate_revoke(cli: Cli) -> None:
    cli.ok("tenants", "create", "acme")
    out = cli.ok("keys", "create", "--tenant", "acme", "--owner", "bot", "--scope", "read",
                 "--scope", "trade:spot", "--ip", "10.0.0.0/8", "--expires-in", "30d")  # fmt: skip
    [first] = KEY.findall(out)
    assert "shown once" in out
    listed = cli.ok("keys", "list", "--tenant", "acme")
    assert first not in listed and f"...{first[-4:]}" in listed
    assert "read trade:spot" in listed and "10.0.0.0/8" in listed and "active" in listed
    key_id = first.split("_")[1]
    assert key_id in listed

    rotated = cli.ok("keys", "rotate", key_id, "--overlap", "0")
    [second] = KEY.findall(rotated)
    assert second != first and "stops working in 0:00:00" in rotated
    listed = cli.ok("keys", "list", "--tenant", "acme")
    assert "expired" in listed and listed.count("bot") == 2
    second_id = second.split("_")[1]
    assert f"revoked key {second_id}" in cli.ok("keys", "revoke", second_id)
    assert "revoked" in cli.ok("keys", "list", "--tenant", "acme")

    assert "valid scopes" in cli.fails("keys", "create", "--tenant", "acme", "--owner", "x",
                                       "--scope", "root")  # fmt: skip
    bad_lifetime = ("--scope", "read", "--expires-in", "soon")
    assert "not a duration" in cli.fails(
        "keys", "create", "--tenant", "acme", "--owner", "x", *bad_lifetime, code=2
    )
    assert "no such tenant 'nope'" in cli.fails("keys", "list", "--tenant", "nope")
    assert "no gateway key" in cli.fails("keys", "revoke", "doesnotexist")
    assert "keys list" in cli.fails("keys", "rotate", second_id)  # revoked: cannot rotate
    # each new key was printed exactly once, in the command that created it
    assert sum(o.count(first) for o in cli.outputs) == 1
    assert sum(o.count(second) for o in cli.outputs) == 1


def test_accounts_add_list_remove_against_the_simulator(cli: Cli, sim: ThreadedSim) -> None:
    cli.ok("tenants", "create", "acme")
    account = sim.account(balances={"USDT": "1000"})
    env = _kucoin_env(account)
    no_exchange = cli.fails("accounts", "add", "--tenant", "acme", "--name", "main", **env)
    assert "KCGW_EXCHANGE_URL" in no_exchange
    cli.env["KCGW_EXCHANGE_URL"] = sim.sim.spot_url

    missing = cli.fails("accounts", "add", "--tenant", "acme", "--name", "main",
                        KUCOIN_API_KEY=account["apiKey"])  # fmt: skip
    assert "KUCOIN_API_SECRET is not set" in missing and "never passed as arguments" in missing

    out = cli.ok("accounts", "add", "--tenant", "acme", "--name", "main", **env)
    assert f"KuCoin uid {account['uid']}" in out
    assert "exists" in cli.fails("accounts", "add", "--tenant", "acme", "--name", "main", **env)
    wrong = {**env, "KUCOIN_API_SECRET": secrets.token_hex(16)}
    assert cli.fails("accounts", "add", "--tenant", "acme", "--name", "other", **wrong)
    risky = sim.account(permissions=["General", "Spot", "Transfer"])
    refused = cli.fails("accounts", "add", "--tenant", "acme", "--name", "risky",
                        **_kucoin_env(risky))  # fmt: skip
    assert "refused" in refused and "Transfer" in refused

    listed = cli.ok("accounts", "list", "--tenant", "acme")
    assert "main" in listed and str(account["uid"]) in listed and "risky" not in listed
    assert "1 " in cli.ok("tenants", "list").split("acme")[1]  # one account

    removed = cli.ok("accounts", "remove", "main", "--tenant", "acme")
    assert "1 credential(s) deleted" in removed and "history" in removed
    assert "has no accounts" in cli.ok("accounts", "list", "--tenant", "acme")
    assert "accounts list" in cli.fails("accounts", "remove", "main", "--tenant", "acme")
    cli.never_shown(account["secret"], account["passphrase"], wrong["KUCOIN_API_SECRET"],
                    risky["secret"], risky["passphrase"])  # fmt: skip


def _seed_account_with_orders(cli: Cli) -> str:
    now = datetime(2026, 11, 1, tzinfo=UTC)

    async def work(session: Any) -> str:
        tenant = await TenantRepository(session).by_name("acme")
        assert tenant is not None
        account_id = await AccountRepository(session).add(tenant.id, "main", now=now)
        repo = OrderIntentRepository(session)
        for oid, state in (("oid-open", OrderState.OPEN), ("oid-done", OrderState.FILLED)):
            intent = NewIntent(account_id, oid, "BTC-USDT", "buy", "limit", Decimal("60000.5"),
                               Decimal("0.001"), state=state)  # fmt: skip
            await repo.add(intent, now=now)
        return str(account_id)

    result: str = _in_db(cli, work)
    return result


def test_orders_list_and_removal_refused_while_orders_are_open(cli: Cli) -> None:
    cli.ok("tenants", "create", "acme")
    cli.ok("tenants", "create", "other")
    account_id = _seed_account_with_orders(cli)
    out = cli.ok("orders", "list", "--tenant", "acme")
    assert "oid-open" in out and "oid-done" in out and "60000.5" in out
    only_open = cli.ok("orders", "list", "--tenant", "acme", "--state", "open")
    assert "oid-open" in only_open and "oid-done" not in only_open
    assert "oid-done" in cli.ok("orders", "list", "--tenant", "acme", "--account", "main",
                                "--state", "filled", "--limit", "1")  # fmt: skip
    assert "no orders match" in cli.ok("orders", "list", "--tenant", "other")
    assert "no such account" in cli.fails("orders", "list", "--tenant", "other",
                                          "--account", account_id)  # fmt: skip
    assert "not a state" in cli.fails("orders", "list", "--tenant", "acme", "--state", "x", code=2)
    assert "oid-open" in cli.ok("orders", "list", "--tenant", "acme", "--symbol", "BTC-USDT",
                                "--market", "spot", "--from", "2026-11-01")  # fmt: skip
    assert "no orders match" in cli.ok("orders", "list", "--tenant", "acme", "--to", "2026-11-01")
    assert "no orders match" in cli.ok("orders", "list", "--tenant", "acme", "--symbol", "X-Y")
    assert "not a market" in cli.fails("orders", "list", "--tenant", "acme", "--market", "x",
                                       code=2)  # fmt: skip
    assert "later than from" in cli.fails("orders", "list", "--tenant", "acme",
                                          "--from", "2026-11-02", "--to", "2026-11-01")  # fmt: skip
    assert "needs the operator" not in out

    async def flag(session: Any) -> None:
        await session.execute(
            update(OrderIntent).where(OrderIntent.client_oid == "oid-open")
            .values(attention="account x cannot sign: its stored credential cannot be decrypted")
        )  # fmt: skip

    _in_db(cli, flag)
    flagged = cli.ok("orders", "list", "--tenant", "acme")
    assert "needs the operator" in flagged and "cannot be decrypted" in flagged

    async def refuse(session: Any) -> None:  # a rejected order keeps why (exchange refusal)
        reason = {"code": "exchange_rejected", "message": "Balance insufficient!",
                  "hint": "deposit or make the order smaller", "exchangeCode": "200004",
                  "exchangeMessage": "Balance insufficient!"}  # fmt: skip
        await session.execute(
            update(OrderIntent).where(OrderIntent.client_oid == "oid-done")
            .values(state=OrderState.REJECTED, reason=reason)
        )  # fmt: skip

    _in_db(cli, refuse)
    refused = cli.ok("orders", "list", "--tenant", "acme", "--state", "rejected")
    assert "rejected: order" in refused and "[exchange 200004]" in refused
    assert "Balance insufficient!; do: deposit or make the order smaller" in refused

    busy = cli.fails("accounts", "remove", "main", "--tenant", "acme")
    assert "1 pending or open order(s)" in busy and "--force" in busy
    assert "main" in cli.ok("accounts", "list", "--tenant", "acme")
    assert "no account" in cli.fails("accounts", "remove", account_id, "--tenant", "other")
    forced = cli(*("accounts", "remove", account_id, "--tenant", "acme", "--force"))
    assert forced.exit_code == 0, forced.output
    assert "no longer tracked" in forced.output
    assert "oid-open" in cli.ok("orders", "list", "--tenant", "acme")  # history kept
    assert "intact" in cli.ok("audit", "verify")


def test_broker_set_show_clear(cli: Cli) -> None:
    broker_key = secrets.token_hex(16)
    assert "no broker settings" in cli.fails("broker", "show")
    missing = cli.fails("broker", "set", "--partner", "P1", "--name", "acme-broker")
    assert "KUCOIN_BROKER_KEY is not set" in missing
    out = cli.ok("broker", "set", "--partner", "P1", "--name", "acme-broker",
                 KUCOIN_BROKER_KEY=broker_key)  # fmt: skip
    assert "partner P1" in out and "sealed under" in out
    assert "broker acme-broker (partner P1)" in cli.ok("broker", "show")
    assert "partner id" in cli.fails("broker", "set", "--partner", " P", "--name", "n",
                                     KUCOIN_BROKER_KEY=broker_key)  # fmt: skip
    status = cli.ok("vault", "status")
    assert re.search(r"\t1$", status, re.MULTILINE), status  # the broker key's data key
    assert "cleared" in cli.ok("broker", "clear")
    assert "no broker settings to clear" in cli.fails("broker", "clear")
    cli.never_shown(broker_key)
    raw = Path(cli.env["KCGW_DATA_DIR"], "kcgateway.db").read_bytes()
    assert broker_key.encode() not in raw


def test_keys_suspensions_and_unsuspend(cli: Cli) -> None:
    from kcgateway.store.ledger import AuditRepository
    from kcgateway.store.tables import AuthSuspension

    cli.ok("tenants", "create", "acme")  # migrates the data directory
    assert "nothing is suspended" in cli.ok("keys", "suspensions")
    since = datetime(2026, 6, 1, tzinfo=UTC)

    async def suspend(session: Any) -> None:  # what a running gateway writes
        session.add(AuthSuspension(subject="ip:192.0.2.1", address="192.0.2.1", key_id=None,
                                   tenant_id=None, failures=20, suspended_at=since))  # fmt: skip
        session.add(AuthSuspension(subject="key:AAAAAAAAAAAA@2001:db8::1", address="2001:db8::1",
                                   key_id="AAAAAAAAAAAA", tenant_id=None, failures=20,
                                   suspended_at=since))  # fmt: skip

    _in_db(cli, suspend)
    listed = cli.ok("keys", "suspensions")
    assert "192.0.2.1" in listed and "AAAAAAAAAAAA@2001:db8::1" in listed
    assert "key id from address" in listed and "keys unsuspend" in listed
    assert "--reason" in cli.fails("keys", "unsuspend", "192.0.2.1", code=2)
    assert "keys suspensions" in cli.fails("keys", "unsuspend", "192.0.2.2", "--reason", "x")
    assert "lifted the suspension of 192.0.2.1" in cli.ok(
        "keys", "unsuspend", "192.0.2.1", "--reason", "our office NAT"
    )
    cli.ok("keys", "unsuspend", "AAAAAAAAAAAA@2001:db8::1", "--reason", "checked")
    assert "nothing is suspended" in cli.ok("keys", "suspensions")

    async def lifts(session: Any) -> list[tuple[str, str, str]]:
        return [
            (r.actor, r.subject, r.detail["reason"])
            for r in await AuditRepository(session).all()
            if r.action == "key.unsuspended"
        ]

    assert _in_db(cli, lifts) == [
        ("cli", "ip:192.0.2.1", "our office NAT"),
        ("cli", "key:AAAAAAAAAAAA@2001:db8::1", "checked"),
    ]


def test_keys_owner_must_be_printable(cli: Cli) -> None:
    cli.ok("tenants", "create", "acme")
    out = cli.fails("keys", "create", "--tenant", "acme", "--owner", "bot\x1b[2Jx", "--scope",
                    "read")  # fmt: skip
    assert "owner has a non-printable character (U+001B)" in out
    assert KEY.findall(out) == []
