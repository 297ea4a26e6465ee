"""``kcgateway alerts``: webhook set/show/clear, list with states, retry of dead deliveries.

The CLI runs its own event loop over a temporary SQLite data directory; alerts are raised and
delivered (to a refusing address) through the same service on that database.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from kcgateway.cli import app
from kcgateway.gateway.alert_delivery import DeliveryPolicy
from kcgateway.gateway.alerts import AlertService
from kcgateway.store.database import open_database
from kcgateway.store.migrate import upgrade
from kcgateway.vault.webhook import new_secret
from tests.helpers import leaksuite

ENV = "KCGW_ALERT_WEBHOOK_SECRET"


class Cli:
    def __init__(self, data: Path) -> None:
        self.data = data
        self.env = {"KCGW_DATA_DIR": str(data), "COLUMNS": "250"}
        self.outputs: list[str] = []

    def __call__(self, *args: str, **env: str) -> Result:
        result = CliRunner().invoke(app, ["alerts", *args], env={**self.env, **env})
        self.outputs.append(result.output)
        return result

    def ok(self, *args: str, **env: str) -> str:
        result = self(*args, **env)
        assert result.exit_code == 0, result.output
        return result.output

    def fails(self, *args: str, **env: str) -> str:
        result = self(*args, **env)
        assert result.exit_code == 1, result.output
        return result.output


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    for var in ("KCGW_KEK", "KCGW_KEK_FILE", "KCGW_KEK_SPEC", "KCGW_DATABASE_URL",
                "KCGW_EXCHANGE_URL", "KCGW_CONFIG", "KCGW_MODE", ENV):  # fmt: skip
        monkeypatch.delenv(var, raising=False)
    return Cli(tmp_path / "data")


@pytest.fixture
def refusing_url() -> Iterator[str]:
    sock = socket.socket()  # bound, never listening: connecting is refused
    sock.bind(("127.0.0.1", 0))
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/hook?token=abc"
    finally:
        sock.close()


def _raise_and_deliver(cli: Cli, rounds: int) -> None:
    """Raise one alert and fail its delivery ``rounds`` times (a 2-attempt policy)."""

    async def run() -> None:
        db = open_database(f"sqlite+aiosqlite:///{cli.data / 'kcgateway.db'}")
        await upgrade(db.engine)
        alerts = AlertService(db, policy=DeliveryPolicy(max_attempts=2), rand=lambda: 0.0)
        try:
            now = datetime.now(UTC)
            await alerts.raise_alert(
                "risk.stolen_key", "critical", ["account:main"], "key k1 woke up after 9 days",
                {"orders": ["o1"]}, now,
            )  # fmt: skip
            for _ in range(rounds):
                await alerts.deliver_due()
                alerts._now = lambda: datetime.now(UTC).replace(year=2100)
        finally:
            await alerts.aclose()
            await db.aclose()

    asyncio.run(run())


def test_webhook_set_show_clear_never_shows_the_secret(cli: Cli, refusing_url: str) -> None:
    secret = new_secret().reveal()
    leaksuite.register("alert webhook secret", secret)
    assert "no alert webhook" in cli.fails("webhook", "show")
    assert ENV in cli.fails("webhook", "set", "--url", refusing_url)  # no secret, no terminal
    assert "whsec_" in cli.fails("webhook", "set", "--url", refusing_url, **{ENV: "nope"})
    bad_url = cli.fails("webhook", "set", "--url", "ftp://x/y", **{ENV: secret})
    assert "http(s)" in bad_url
    out = cli.ok("webhook", "set", "--url", refusing_url, **{ENV: secret})
    path = cli.data / "alert-webhook.secret"
    assert f"signed with the secret in {path}" in out and "?***" in out
    assert path.read_text().strip() == secret and path.stat().st_mode & 0o777 == 0o600
    shown = cli.ok("webhook", "show")
    assert "/hook?***" in shown and "token=abc" not in shown
    assert "alert webhook cleared" in cli.ok("webhook", "clear")
    assert "no alert webhook to clear" in cli.fails("webhook", "clear")
    assert not any(secret in o for o in cli.outputs)


def test_generate_prints_a_new_secret_once_and_keep_secret_reuses_the_file(
    cli: Cli, refusing_url: str
) -> None:
    out = cli.ok("webhook", "set", "--url", refusing_url, "--generate")
    [line] = [x.strip() for x in out.splitlines() if x.strip().startswith("whsec_")]
    # shown once by design (like a new gateway key), so not a leak canary: checked by hand below
    assert (cli.data / "alert-webhook.secret").read_text().strip() == line
    again = cli.ok("webhook", "set", "--url", refusing_url, "--keep-secret")
    assert "whsec_" not in again
    assert "choose one" in cli.fails("webhook", "set", "--url", refusing_url, "--generate",
                                     "--keep-secret")  # fmt: skip
    cli.ok("webhook", "show")
    assert [o for o in cli.outputs if line in o] == [out]  # in the first answer only


def test_list_shows_states_and_retry_requeues_dead_deliveries(cli: Cli, refusing_url: str) -> None:
    assert "0 alerts" in cli.ok("list")
    cli.ok("webhook", "set", "--url", refusing_url, "--generate")
    _raise_and_deliver(cli, rounds=2)  # two refused attempts: dead
    listed = cli.ok("list")
    assert "1 alerts" in listed and "risk.stolen_key" in listed and "(gateway)" in listed
    assert "dead (2 attempts): no answer from the receiver" in listed
    assert "1 alerts" in cli.ok("list", "--state", "dead")
    assert "0 alerts" in cli.ok("list", "--state", "pending")
    assert "0 alerts" in cli.ok("list", "--kind", "risk.other")
    assert "1 alerts" in cli.ok("list", "--since", "2000-01-01")
    assert "0 alerts" in cli.ok("list", "--since", "2100-01-01T00:00:00")
    assert "unknown state" in cli.fails("list", "--state", "lost")
    [line] = cli.ok("list", "--json").splitlines()
    alert = json.loads(line)
    assert alert["evidence"] == {"orders": ["o1"]} and alert["delivery"]["state"] == "dead"

    assert "0 dead deliveries requeued" in cli.ok("retry", "--alert", "no-such-alert")
    assert "1 dead deliveries requeued" in cli.ok("retry", "--alert", alert["id"])
    pending = cli.ok("list", "--state", "pending")
    assert "1 alerts" in pending and "pending (0 attempts)" in pending
    assert "0 dead deliveries requeued" in cli.ok("retry")
