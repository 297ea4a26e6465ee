"""The composition root: dev creates what is missing, prod refuses, the demo bootstrap works."""

from __future__ import annotations

import base64
import os
import secrets
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from kcgateway import main
from kcgateway.errors import ConfigError
from kcgateway.gateway.audit import verify_chain
from kcgateway.secret import Secret
from kcgateway.settings import Mode, Settings
from kcgateway.store.audit_chain import GENESIS_HASH
from kcgateway.store.database import open_database
from kcgateway.store.migrate import upgrade
from kcgateway.vault.audit_keys import create_audit_key_file, load_audit_keys
from kcgateway.web.app import create_app
from tests.helpers.gateway import auth, order_body, seed_last_prices


@pytest.fixture(autouse=True)
def _no_kek_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("KCGW_KEK", "KCGW_KEK_FILE", "KCGW_KEK_SPEC"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))


def test_dev_creates_kek_and_pepper_once(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path / "d")
    ring = main.load_ring(s)
    assert stat.S_IMODE(os.stat(tmp_path / "d" / "kek.key").st_mode) == 0o600
    assert main.load_ring(s).kek_ids == ring.kek_ids
    pepper = main.load_pepper(s)
    assert main.load_pepper(s).reveal() == pepper.reveal()
    assert stat.S_IMODE(os.stat(s.pepper_path()).st_mode) == 0o600


def test_prod_creates_nothing(tmp_path: Path) -> None:
    s = Settings(mode=Mode.PROD, data_dir=tmp_path, pepper_file=tmp_path / "pepper")
    with pytest.raises(ConfigError, match="init-kek"):
        main.load_ring(s)
    with pytest.raises(ConfigError, match="does not exist"):
        main.load_pepper(s)
    (tmp_path / "pepper").write_text("x" * 40)
    os.chmod(tmp_path / "pepper", 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        main.load_pepper(s)
    os.chmod(tmp_path / "pepper", 0o600)
    assert main.load_pepper(s).reveal() == "x" * 40
    (tmp_path / "pepper").write_text("short")
    with pytest.raises(ConfigError, match="too short"):
        main.load_pepper(s)
    assert not (tmp_path / "kek.key").exists()


async def test_prod_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    s = Settings(mode=Mode.PROD, data_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/p.db")
    with pytest.raises(ConfigError, match="db upgrade"):
        await main.open_store(s)


async def test_prod_wiring_against_an_external_exchange(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KCGW_KEK", base64.b64encode(os.urandom(32)).decode())
    pepper = tmp_path / "pepper"
    pepper.write_text(secrets.token_hex(32))
    pepper.chmod(0o600)
    url = f"sqlite+aiosqlite:///{tmp_path}/prod.db"
    async with open_database(url) as db:
        await upgrade(db.engine)  # what `kcgateway db upgrade` does
    exchange = await main.EmbeddedSim.start(tick_ms=0)  # stands in for api.kucoin.com
    audit_keys = tmp_path / "audit.keys"
    s = Settings(mode=Mode.PROD, database_url=url, pepper_file=pepper, audit_key_file=audit_keys,
                 exchange_url=exchange.spot_url, data_dir=tmp_path / "unused")  # fmt: skip
    try:
        with pytest.raises(ConfigError, match="kcgateway audit init-key"):
            await main.issue_admin_key(s, "acme", "ops")
        assert not audit_keys.exists(), "prod never creates the audit key file"
        create_audit_key_file(audit_keys, legacy_head=GENESIS_HASH, now=datetime.now(UTC))
        key = (await main.issue_admin_key(s, "acme", "ops")).reveal()
        services, sim = await main.prepare(s)
        assert sim is None and not (tmp_path / "unused").exists()
        seed_last_prices(exchange)  # a quiet simulator has books but no trade yet
        services.start()  # as serve does: the risk engine's first loads and refreshes
        await services.risk_ready()
        transport = httpx.ASGITransport(app=create_app(services), client=("127.0.0.1", 1))
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
                acct = exchange.create_account(
                    {"secret": secrets.token_hex(16), "passphrase": secrets.token_hex(8),
                     "balances": {"USDT": "1000"}, "permissions": ["General", "Spot"]}
                )  # fmt: skip
                body = {"name": "live", "apiKey": acct["apiKey"], "secret": acct["secret"],
                        "passphrase": acct["passphrase"]}  # fmt: skip
                resp = await http.post("/v1/accounts", json=body, headers=auth(key))
                assert resp.status_code == 422, "prod refuses a key without an IP whitelist"
                fenced = exchange.create_account(
                    {"secret": secrets.token_hex(16), "passphrase": secrets.token_hex(8),
                     "balances": {"USDT": "1000"}, "ipWhitelist": ["127.0.0.1"]}
                )  # fmt: skip
                body = {**body, "apiKey": fenced["apiKey"], "secret": fenced["secret"],
                        "passphrase": fenced["passphrase"]}  # fmt: skip
                resp = await http.post("/v1/accounts", json=body, headers=auth(key))
                assert resp.status_code == 201, resp.text
                resp = await http.post("/v1/orders", json=order_body("live"), headers=auth(key))
                assert resp.status_code == 201, resp.text
        finally:
            await services.aclose()
    finally:
        await exchange.aclose()


def test_cli_create_admin_prints_a_working_key_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from kcgateway.cli import app as cli

    monkeypatch.setenv("KCGW_DATA_DIR", str(tmp_path / "d"))
    (tmp_path / "d").mkdir()
    result = CliRunner().invoke(cli, ["keys", "create-admin", "--tenant", "demo"])
    assert result.exit_code == 0, result.output
    printed = result.output.strip().splitlines()[-1]
    assert printed.startswith("kgw_")
    monkeypatch.setenv("KCGW_MODE", "prod")
    bad = CliRunner().invoke(cli, ["keys", "create-admin", "--tenant", "demo"])
    assert bad.exit_code == 1 and "KCGW_DATABASE_URL" in bad.output


async def test_dev_bootstrap_then_restart(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path / "d")
    keys: list[str] = []
    first_order = ""
    for run in range(2):  # a restart: same database, the simulator restored from its file
        ring, pepper = main.load_ring(s), main.load_pepper(s)
        db = await main.open_store(s)
        sim = await main.EmbeddedSim.start(tick_ms=0, state_file=s.data_dir / main.SIM_STATE_FILE)
        services = main.build_services(s, db, ring, pepper, sim.hosts)
        seed_last_prices(sim)
        try:
            assert services.risk is not None
            await services.risk.load()  # as prepare and serve do
            services.start()
            await services.risk_ready()
            key = await main.bootstrap_demo(s, services, sim)
            text = "\n".join(main.banner(s, key, sim))
            assert f"{s.port}/ui" in text  # the console's address, at every start
            assert "kcgateway console login --key" in text  # and a one-time link's command
            if not keys:  # the first start makes the admin key and shows it once
                assert key is not None and key.reveal() in text and "curl" in text
                assert f"console login --key {key.reveal().split('_')[1]}" in text
                keys.append(key.reveal())
            else:  # a restart keeps it (bots keep working) and says how to get another
                assert key is None and "kgw_" not in text and "create-admin" in text
            transport = httpx.ASGITransport(app=create_app(services), client=("127.0.0.1", 1))
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
                resp = await http.post(
                    "/v1/orders", json=order_body("paper"), headers=auth(keys[0])
                )
                assert resp.status_code == 201, resp.text
                listed = await http.get("/v1/orders", headers=auth(keys[0]))
                assert len(listed.json()) == run + 1, "the same key sees every start's orders"
                if run == 1:  # the order placed before the restart is still at the exchange
                    resp = await http.delete(f"/v1/orders/{first_order}", headers=auth(keys[0]))
                    assert resp.status_code == 200, resp.text
                    resp = await http.get(f"/v1/orders/{first_order}", headers=auth(keys[0]))
                    assert resp.json()["state"] in {"cancel_pending", "cancelled"}, resp.text
                    spot = await http.get("/v1/balances?account=paper", headers=auth(keys[0]))
                    held = [b for b in spot.json() if b["currency"] == "USDT"]
                    assert [b["balance"] for b in held if b["type"] == "trade_hf"] == ["100000"]
                if run == 0:  # the paper key trades margin and reads futures, both funded
                    first_order = listed.json()[0]["id"]
                    margin = order_body("paper", size="0.002")
                    resp = await http.post("/v1/margin/orders", json=margin, headers=auth(keys[0]))
                    assert resp.status_code == 201, resp.text
                    resp = await http.get("/v1/futures/balances?account=paper",
                                          headers=auth(keys[0]))  # fmt: skip
                    assert resp.status_code == 200, resp.text
                    assert "10000" in resp.text, resp.text
        finally:
            await services.aclose()
            await sim.aclose()
    # dev created the audit key file once (0600); both runs chained every record with it
    path = s.audit_key_path()
    assert path == tmp_path / "d" / "audit.keys" and stat.S_IMODE(path.stat().st_mode) == 0o600
    keys_file = load_audit_keys(path)
    assert len(keys_file.keys) == 1
    async with open_database(s.sqlite_url()) as db:
        report = await verify_chain(db, keys=keys_file)
    assert report.ok and report.unkeyed == 0 and report.records > 5, report
    # a lost key file is not silently replaced: the keyed records could never verify again
    path.unlink()
    with pytest.raises(ConfigError, match="restore it from your backup"):
        await main.open_store(s)
    assert not path.exists()


def test_cli_serve_in_prod_without_settings_says_what_to_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer.testing import CliRunner

    from kcgateway.cli import app as cli

    monkeypatch.setenv("KCGW_MODE", "prod")
    result = CliRunner().invoke(cli, ["serve", "--port", "0"])
    assert result.exit_code == 1
    assert "KCGW_DATABASE_URL" in result.output and "KCGW_EXCHANGE_URL" in result.output


def test_listeners_answer_without_waiting_for_a_delayed_ack() -> None:
    """serve's sockets disable Nagle (their connections inherit it): a small response's body
    is not held ~40 ms behind its head."""
    import socket

    sock = main.listen_socket("127.0.0.1", 0)
    try:
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        sock.close()


def test_cli_serve_on_a_busy_port_fails_before_issuing_a_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    from typer.testing import CliRunner

    from kcgateway.cli import app as cli

    monkeypatch.setenv("KCGW_DATA_DIR", str(tmp_path / "data"))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = CliRunner().invoke(cli, ["serve", "--port", str(port)])
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
    assert "--port" in result.output
    assert "kgw_" not in result.output
    assert not (tmp_path / "data").exists()


async def test_dev_with_an_exchange_url_uses_it_and_embeds_no_simulator(tmp_path: Path) -> None:
    """What the kill test needs: a dev gateway (SQLite, local KEK) against an outside sim."""
    exchange = await main.EmbeddedSim.start(tick_ms=0)  # stands in for `kcgateway sim`
    s = Settings(data_dir=tmp_path / "d", exchange_url=exchange.spot_url)
    try:
        key = (await main.issue_admin_key(s, "acme", "ops")).reveal()
        services, sim = await main.prepare(s)
        assert sim is None, "dev mode with KCGW_EXCHANGE_URL must not embed a simulator"
        seed_last_prices(exchange)
        services.start()
        await services.risk_ready()
        transport = httpx.ASGITransport(app=create_app(services), client=("127.0.0.1", 1))
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
                acct = exchange.create_account(
                    {"secret": secrets.token_hex(16), "passphrase": secrets.token_hex(8),
                     "balances": {"USDT": "1000"}, "hf": True}
                )  # fmt: skip
                body = {"name": "ext", "apiKey": acct["apiKey"], "secret": acct["secret"],
                        "passphrase": acct["passphrase"]}  # fmt: skip
                resp = await http.post("/v1/accounts", json=body, headers=auth(key))
                assert resp.status_code == 201, resp.text
                resp = await http.post("/v1/orders", json=order_body("ext"), headers=auth(key))
                assert resp.status_code == 201, resp.text
                oid = resp.json()["clientOid"]
        finally:
            await services.aclose()
        assert exchange.state.accepted_by_client_oid[oid] == 1, "placed at the external exchange"
    finally:
        await exchange.aclose()


def test_served_logs_reach_the_operator_with_environment_secrets_masked() -> None:
    import io
    import logging

    from kcgateway.main import configure_logging

    kek_hex = secrets.token_hex(32)
    out = io.StringIO()
    gateway = logging.getLogger("kcgateway")
    before = gateway.level
    undo = configure_logging({"KCGW_KEK": kek_hex}, out)
    try:
        log = logging.getLogger("kcgateway.gateway.orders")
        log.info("reconcile deferred: intent=%s", "i-1")
        log.warning("oops %s", kek_hex)
        log.debug("not shown at INFO")
    finally:
        undo()
    assert gateway.level == before, "logging is left as it was found"
    logging.getLogger("kcgateway.x").warning("after undo")
    text = out.getvalue()
    assert "INFO kcgateway.gateway.orders: reconcile deferred: intent=i-1" in text
    assert kek_hex not in text and "oops ***" in text
    assert "not shown" not in text and "after undo" not in text


def test_settle_heap_hides_start_up_objects_from_full_collections() -> None:
    import gc

    built_at_start_up = [{"n": i} for i in range(1000)]  # tracked containers
    gc.unfreeze()
    try:
        main.settle_heap()
        frozen = gc.get_freeze_count()
        assert frozen >= len(built_at_start_up)
        # a full collection no longer walks them: it sees only what is still tracked
        assert not any(obj is built_at_start_up for obj in gc.get_objects(generation=2))
    finally:
        gc.unfreeze()


def test_production_wiring_does_not_load_the_simulator(tmp_path: Path) -> None:
    """Only dev mode imports kucoin_sim (lazily, when it embeds one)."""
    import asyncio
    import subprocess
    import sys

    url = f"sqlite+aiosqlite:///{tmp_path}/prod.db"

    async def migrate() -> None:
        async with open_database(url) as db:
            await upgrade(db.engine)

    asyncio.run(migrate())
    pepper = tmp_path / "pepper"
    pepper.write_text(secrets.token_hex(32))
    pepper.chmod(0o600)
    audit_keys = tmp_path / "audit.keys"
    create_audit_key_file(audit_keys, legacy_head=GENESIS_HASH, now=datetime.now(UTC))
    env = {
        **os.environ,
        "KCGW_MODE": "prod",
        "KCGW_DATABASE_URL": url,
        "KCGW_PEPPER_FILE": str(pepper),
        "KCGW_AUDIT_KEY_FILE": str(audit_keys),
        "KCGW_KEK": base64.b64encode(os.urandom(32)).decode(),
        "KCGW_EXCHANGE_URL": "http://exchange.invalid",
    }
    script = """
import asyncio, sys
import kcgateway.cli  # what the `kcgateway` console script loads: every command
from kcgateway import main
from kcgateway.settings import load_settings

def loaded() -> list[str]:
    return sorted(m for m in sys.modules if m.split(".")[0] == "kucoin_sim")

print(loaded(), flush=True)

async def wire() -> None:
    settings = load_settings()
    services, sim = await main.prepare(settings)
    try:
        assert sim is None
        main.server_config(main.create_app(services), settings)
    finally:
        await services.aclose()

asyncio.run(wire())
print(loaded())
"""
    done = subprocess.run(  # noqa: S603 - our own fixed script
        [sys.executable, "-c", script],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    printed = done.stdout.splitlines()
    assert printed[:1] == ["[]"], f"importing the gateway loaded the simulator: {printed[:1]}"
    assert done.returncode == 0, done.stderr
    assert printed == ["[]", "[]"], f"the prod composition loaded the simulator: {printed}"


def test_uvicorn_is_told_to_leave_the_client_address_alone() -> None:
    config = main.server_config(main.create_app(_no_services()), Settings())
    assert config.proxy_headers is False
    assert config.forwarded_allow_ips == []


def _no_services() -> Any:
    """Enough of a services bundle to build the app (nothing is called)."""
    from kcgateway.gateway.metrics import GatewayMetrics

    class Bundle:
        metrics = GatewayMetrics()

    return Bundle()


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@asynccontextmanager
async def _served(data_dir: Path, **settings: str) -> AsyncIterator[tuple[str, str]]:
    """``kcgateway serve`` (dev mode) as its own process: (base URL, the printed admin key).

    The key is "" on a restart on the same data directory (the first start's key stays valid).
    """
    import asyncio
    import signal
    import sys

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KCGW_")}
    env.update(KCGW_DATA_DIR=str(data_dir), KCGW_PORT=str(port), PYTHONUNBUFFERED="1")
    env.update(settings)
    log_path = data_dir.parent / f"serve-{port}.log"
    with log_path.open("wb") as log:
        exe = Path(sys.executable).parent / "kcgateway"
        proc = await asyncio.create_subprocess_exec(
            str(exe), "serve", env=env, stdout=log, stderr=asyncio.subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        key = None
        async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=10) as http:
            for _ in range(1200):  # up to 2 minutes on a busy machine
                assert proc.returncode is None, log_path.read_text()
                if key is None:
                    text = log_path.read_text()
                    found = [w for w in text.split() if w.startswith("kgw_")]
                    key = found[0] if found else ("" if "admin key: unchanged" in text else None)
                if key is not None:  # "": a restart keeps the first start's key
                    try:
                        if (await http.get("/healthz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the gateway did not start:\n" + log_path.read_text())
        yield base, key
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(proc.wait(), 60)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def _raw_status(base: str, head: str) -> bytes:
    """The status line a served gateway answers to ``head`` (request line and headers only)."""
    import asyncio

    host, port = base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(head.encode())
        await writer.drain()
        return await asyncio.wait_for(reader.readline(), 30)
    finally:
        writer.close()


async def test_served_gateway_decides_the_client_address_by_trusted_proxies_alone(
    tmp_path: Path,
) -> None:
    """A real uvicorn on loopback: X-Forwarded-For counts only from a listed proxy.

    (uvicorn's own proxy-header handling trusts loopback by default: it let this header pass
    a key's IP allow-list.)
    """
    data = tmp_path / "d"
    spoofed = {"X-Forwarded-For": "10.1.2.3"}
    async with _served(data) as (base, admin):
        async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=30) as http:
            body = {"owner": "bot", "scopes": ["read"], "ipAllowlist": ["10.0.0.0/8"]}
            resp = await http.post("/v1/keys", json=body, headers=auth(admin))
            assert resp.status_code == 201, resp.text
            fenced = resp.json()["key"]
            resp = await http.get("/v1/orders", headers={**auth(fenced), **spoofed})
            assert resp.status_code == 401, "a header from an untrusted peer is ignored"
        # and nothing large is read before authentication: the body is declared, never sent
        head = (
            "POST /v1/orders HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
            f"Content-Length: {5 * 1024 * 1024}\r\n\r\n"
        )
        assert (await _raw_status(base, head)).startswith(b"HTTP/1.1 413")
    async with (
        _served(data, KCGW_TRUSTED_PROXIES="127.0.0.1/32") as (base, _admin),
        httpx.AsyncClient(base_url=base, trust_env=False, timeout=30) as http,
    ):
        resp = await http.get("/v1/orders", headers={**auth(fenced), **spoofed})
        assert resp.status_code == 200, "behind a listed proxy the forwarded client counts"
        resp = await http.get("/v1/orders", headers=auth(fenced))
        assert resp.status_code == 401, "the proxy's own address is not in the allow-list"


async def test_dev_start_places_the_readme_order_with_every_risk_check_on(tmp_path: Path) -> None:
    """`make run`: the embedded simulator (market makers on) and the default risk limits.

    The banner's order (a limit buy of 0.001 BTC at 60000 on `paper`) must pass the engine right
    after start: the simulator has a last price from its first tick, the engine its first loads.
    """
    s = Settings(data_dir=tmp_path / "d")
    services, sim = await main.prepare(s)
    assert sim is not None
    try:
        assert services.risk is not None
        assert services.risk.gateway_limits.check_price_collar, "production defaults: all on"
        services.start()
        await services.risk_ready()
        key = (await main.bootstrap_demo(s, services, sim)).reveal()
        assert '"price":"60000","size":"0.001"' in "\n".join(main.banner(s, Secret(key), sim))
        transport = httpx.ASGITransport(app=create_app(services), client=("127.0.0.1", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
            resp = await http.post("/v1/orders", json=order_body("paper"), headers=auth(key))
            assert resp.status_code == 201, resp.text
            far = order_body("paper", price="90000")  # 38% above the market: the collar
            resp = await http.post("/v1/orders", json=far, headers=auth(key))
            assert resp.status_code == 422, resp.text
            assert [f["code"] for f in resp.json()["failures"]] == ["risk.price_collar"]
    finally:
        await services.aclose()
        await sim.aclose()
