"""Control API validation, loopback-only guard, config loading and the ``kcgateway sim`` banner."""

from __future__ import annotations

import json
import secrets
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from unittest import mock

import pytest
from aiohttp.test_utils import make_mocked_request
from typer.testing import CliRunner

from kcgateway.cli import app as cli_app
from kcgateway.commands.sim import _banner
from kucoin_sim import admin
from kucoin_sim.app import build_apps
from kucoin_sim.config import SimConfig, SimConfigError, config_from_dict, load_config
from tests.kucoin_sim.harness import running_sim


def test_is_loopback() -> None:
    assert admin.is_loopback("127.0.0.1") and admin.is_loopback("::1")
    assert not admin.is_loopback("10.0.0.1")
    assert not admin.is_loopback("not-an-ip") and not admin.is_loopback(None)


async def test_non_loopback_callers_get_403() -> None:
    apps = build_apps(SimConfig(tick_ms=0), 1)
    handler = admin._bind(apps.state, admin.get_state)
    transport = mock.Mock()
    transport.get_extra_info.return_value = ("192.0.2.7", 5555)
    request = make_mocked_request("GET", "/_sim/state", transport=transport)
    response = await handler(request)
    assert response.status == 403


async def test_control_api_validation_and_state() -> None:
    pinned = "pin-" + secrets.token_hex(6)
    async with running_sim() as sim:
        created = await sim.admin(
            "POST",
            "/_sim/accounts",
            {"apiKey": pinned, "keyVersion": 2, "permissions": ["spot"], "hf": True},
        )
        assert created["apiKey"] == pinned and created["keyVersion"] == 2
        for body in ({"apiKey": pinned}, {"hf": "yes"}, {"keyVersion": 4},
                     {"permissions": ["Withdraw"]}, {"balances": {"USDT": "-1"}},
                     {"balances": {"USDT": "abc"}}, {"ipWhitelist": 5}):  # fmt: skip
            async with sim.session.post(sim.spot + "/_sim/accounts", json=body) as resp:
                assert resp.status == 400, body
                assert (await resp.json())["code"] == "400100"
        extra = await sim.admin("POST", f"/_sim/accounts/{created['uid']}/keys", {})
        assert extra["uid"] == created["uid"] and extra["apiKey"] != created["apiKey"]
        assert (await sim.admin("POST", f"/_sim/accounts/{created['uid']}/mode", {"hf": False}))[
            "hf"
        ] is False
        funded = await sim.admin(
            "POST", "/_sim/fund", {"uid": created["uid"], "balances": {"ETH": "3"}}
        )
        assert {b["currency"]: b["balance"] for b in funded["balances"]}["ETH"] == "3"
        price = await sim.admin("POST", "/_sim/prices", {"symbol": "ETH-USDT", "price": "2500"})
        assert price["price"] == "2500"
        moved = await sim.admin("POST", "/_sim/prices", {"symbol": "ETH-USDT", "move": "0.1"})
        assert moved["symbol"] == "ETH-USDT"
        async with sim.session.post(
            sim.spot + "/_sim/prices", json={"symbol": "NOPE", "price": "1"}
        ) as r:
            assert r.status == 400
        async with sim.session.post(sim.spot + "/_sim/fund", json={"uid": "nobody"}) as r:
            assert r.status == 400
        async with sim.session.get(sim.spot + "/_sim/files/none.csv") as r:
            assert r.status == 404
        balances = await sim.admin("GET", f"/_sim/balances?uid={created['uid']}")
        assert any(b["currency"] == "ETH" for b in balances)
        assert await sim.admin("GET", f"/_sim/fills?uid={created['uid']}") == []
        state = await sim.admin("POST", "/_sim/reset")
        assert state["unexpectedErrors"] == 0 and state["users"] >= 1


async def test_ratelimit_knob_resizes_pools_and_counts_each_window() -> None:
    async with running_sim() as sim:
        acct = await sim.account()
        conf = await sim.admin(
            "POST", "/_sim/ratelimit", {"quotas": {"spot": 5}, "windowMs": 60_000}
        )
        assert conf["quotas"]["spot"] == 5 and conf["windowMs"] == 60_000
        codes = []
        for _ in range(4):  # GET /api/v1/orders weighs 2 in the spot pool: 2 + 2, then 429s
            _status, data, headers = await sim.call(acct, "GET", "/api/v1/orders")
            codes.append(data["code"])
        assert codes == ["200000", "200000", "429000", "429000"]
        assert headers["gw-ratelimit-limit"] == "5"
        assert 59_000 < int(headers["gw-ratelimit-reset"]) <= 60_000
        seen = await sim.admin("GET", f"/_sim/ratelimit?pool=spot&subject={acct['uid']}")
        assert [(w["used"], w["calls"], w["refused"]) for w in seen["windows"]] == [(4, 4, 2)]
        for body in ({"quotas": {"spot": 0}}, {"quotas": {"nope": 5}}, {"windowMs": "1"},
                     {"windowMs": -1}, {"quotas": [1]}):  # fmt: skip
            async with sim.session.post(sim.spot + "/_sim/ratelimit", json=body) as resp:
                assert resp.status == 400, body
                assert (await resp.json())["code"] == "400100"


async def test_books_route_mirrors_a_reference_book_and_says_what_is_wrong() -> None:
    async with running_sim() as sim:
        book = {"symbol": "ETH-USDT", "bids": [["2499.5", "0.3"]], "asks": [["2500.5", "0.2"]]}
        assert await sim.admin("POST", "/_sim/books", book) == {
            "symbol": "ETH-USDT", "bids": 1, "asks": 1,
        }  # fmt: skip
        async with sim.session.get(
            sim.spot + "/api/v1/market/orderbook/level2_20?symbol=ETH-USDT"
        ) as r:
            data = (await r.json())["data"]
        assert data["bids"] == [["2499.5", "0.3"]] and data["asks"] == [["2500.5", "0.2"]]
        for bad in ({"bids": []}, {"symbol": "ETH-USDT", "bids": "x"},
                    {"symbol": "ETH-USDT", "bids": [["1"]]},
                    {"symbol": "ETH-USDT", "bids": [["a", "1"]]},
                    {"symbol": "ETH-USDT", "bids": [["NaN", "1"]]},
                    {"symbol": "ETH-USDT", "bids": [["2", "1"]], "asks": [["1", "1"]]},
                    {"symbol": "NOPE-USDT", "bids": [["1", "1"]]}):  # fmt: skip
            async with sim.session.post(sim.spot + "/_sim/books", json=bad) as resp:
                assert resp.status == 400, bad
                assert (await resp.json())["code"] != ""


def test_config_loading(tmp_path: Path) -> None:
    toml = tmp_path / "sim.toml"
    toml.write_text(
        'seed = 5\ntick_ms = 0\n[[accounts]]\nhf = true\n[[faults]]\nkind = "latency"\n'
    )
    cfg = load_config(toml)
    assert (cfg.seed, cfg.tick_ms, len(cfg.accounts), len(cfg.faults)) == (5, 0, 1, 1)
    apps = build_apps(cfg)
    assert len(apps.created_accounts) == 1 and len(apps.state.faults.rules) == 1
    js = tmp_path / "sim.json"
    js.write_text(json.dumps({"quotas": {"spot": 10}}))
    assert load_config(js).quotas == {"spot": 10}
    for bad in ({"seed": -1}, {"accounts": {}}, {"engine": []}, {"quotas": {"spot": "x"}}):
        with pytest.raises(SimConfigError):
            config_from_dict(bad)
    with pytest.raises(SimConfigError):
        load_config(tmp_path / "missing.toml")
    (tmp_path / "bad.toml").write_text("= nope")
    with pytest.raises(SimConfigError):
        load_config(tmp_path / "bad.toml")


def test_cli_banner_and_bad_config(tmp_path: Path) -> None:
    lines = _banner(
        "http://a", "http://b", {"uid": "1", "apiKey": "k", "secret": "s", "passphrase": "p"}
    )
    assert lines[0].endswith("http://a") and any("apiKey" in line for line in lines)
    assert not any("apiKey" in line for line in _banner("http://a", "http://b", None))
    result = CliRunner().invoke(cli_app, ["sim", "--config", str(tmp_path / "missing.toml")])
    assert result.exit_code == 2 and "cannot read config" in result.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_kcgateway_sim_serves_and_stops_on_sigint() -> None:
    spot, futures = _free_port(), _free_port()
    exe = Path(sys.executable).with_name("kcgateway")
    proc = subprocess.Popen(  # noqa: S603 - our own console script
        [str(exe), "sim", "--spot-port", str(spot), "--futures-port", str(futures), "--seed", "3"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(9)]
        assert f"http://127.0.0.1:{spot}" in lines[0]
        assert any(line.strip().startswith("apiKey") for line in lines)
        with urllib.request.urlopen(f"http://127.0.0.1:{futures}/api/v1/timestamp") as resp:
            assert json.loads(resp.read())["code"] == "200000"
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "simulator stopped" in out
