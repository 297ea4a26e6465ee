"""Scenario scripts (issue 13, simulator support): the pump, ordinary bots, determinism, routes."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kcgateway.cli import app as cli_app
from kcgateway.clock import FakeClock
from kucoin_sim.app import SimApps, build_apps
from kucoin_sim.config import SimConfig
from kucoin_sim.engine import AccountType
from kucoin_sim.scenario import ScenarioError, ScenarioRun, example, load, parse, read
from tests.kucoin_sim.harness import running_sim

T0 = 1_700_000_000_000
SMALL_BOTS: dict[str, Any] = {
    "seed": 3,
    "backfill": True,
    "steps": [
        {"do": "accounts", "group": "dca", "count": 4, "hf": True, "balances": {"USDT": "5000"}},
        {"do": "accounts", "group": "grid", "count": 2, "balances": {"USDT": "5000", "ETH": "2"}},
        {"do": "accounts", "group": "mm", "count": 1, "balances": {"USDT": "9000", "BTC": "1"}},
        {"do": "bots", "kind": "dca", "group": "dca", "symbols": ["BTC-USDT", "SOL-USDT"],
         "funds": "20", "at": "1m", "every": "6h", "until": "3d"},
        {"do": "bots", "kind": "grid", "group": "grid", "symbol": "ETH-USDT", "levels": 3,
         "step": "0.001", "size": "0.05", "at": "1m", "every": "1h", "until": "3d"},
        {"do": "bots", "kind": "mm", "group": "mm", "symbol": "BTC-USDT", "spread": "0.0004",
         "size": "0.002", "at": "1m", "every": "1h", "until": "3d"},
        {"do": "walk", "symbol": "ETH-USDT", "steps": 72, "every": "1h", "volatility": "0.004"},
        {"do": "tick", "every": "2h", "until": "3d"},
    ],
}  # fmt: skip


def _apps(seed: int = 7) -> SimApps:
    return build_apps(SimConfig(tick_ms=0), seed, FakeClock(T0))


def _available(apps: SimApps, uid: str, currency: str) -> Decimal:
    rows = apps.state.exchange.balances(uid, AccountType.TRADE_HF, currency)
    return rows[0].available if rows else Decimal(0)


def _tape(apps: SimApps) -> list[tuple[str, str, str, str]]:
    """Every named account's fills, as (name, side, price, size): comparable across runs."""
    out = []
    for name, uid in sorted(apps.state.scenario_names.items()):
        for f in apps.state.exchange.fills(uid):
            out.append((name, f.side.value, str(f.price), str(f.size)))
    return out


def test_the_pump_example_plays_the_attack_on_the_thin_symbol() -> None:
    apps = _apps()
    start = apps.state.exchange.last_price("THIN-USDT") or Decimal("0.05")
    report = ScenarioRun(apps.state, load(example("pump"))).run_all()
    assert (report["status"], report["refused"]) == ("done", 0), report["refusals"]
    assert set(report["accounts"]) >= {"attacker-1", "attacker-31", "victim-1", "victim-20"}
    assert Decimal(report["prices"]["THIN-USDT"]) > 4 * start  # bought up through the walls
    names = apps.state.scenario_names
    for i in range(1, 21):
        victim = names[f"victim-{i}"]
        assert _available(apps, victim, "BTC") == 0  # dumped at market
        assert _available(apps, victim, "THIN") > 0  # and bought the illiquid coin
        assert _available(apps, victim, "USDT") < 1000  # with most of their money
    sold = sum(2 * 10**4 - _available(apps, names[f"attacker-{i}"], "THIN") for i in range(1, 32))
    assert sold > 200_000  # the walls were sold into
    attacker_usdt = sum(_available(apps, names[f"attacker-{i}"], "USDT") for i in range(1, 32))
    assert attacker_usdt > 50_000  # the victims' money went to the attackers
    assert apps.state.exchange.orders(names["attacker-31"], status="active") == []  # walls down
    assert report["lastMs"] - report["startMs"] == 120_000  # engine time = start + at


def test_the_same_seed_and_start_give_the_same_market_and_another_seed_does_not() -> None:
    runs = []
    for seed in (3, 3, 4):
        apps = _apps()
        report = ScenarioRun(apps.state, parse({**SMALL_BOTS, "seed": seed})).run_all()
        assert report["status"] == "done"
        runs.append((_tape(apps), report["prices"], report["orders"]))
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_ordinary_bots_trade_over_compressed_days_ending_now() -> None:
    apps = _apps()
    report = ScenarioRun(apps.state, parse(SMALL_BOTS)).run_all()
    assert (report["status"], report["refused"]) == ("done", 0), report["refusals"]
    assert report["lastMs"] == T0 and report["startMs"] == T0 - 3 * 86_400_000  # backfilled
    exchange, names = apps.state.exchange, apps.state.scenario_names
    for name in ("dca-1", "dca-4", "grid-1", "mm-1"):
        assert exchange.fills(names[name]), name  # every kind of bot traded
    dca = exchange.orders(names["dca-1"])
    assert len(dca) == 12  # every 6 h for 3 days, from its own offset
    assert len({o.created_at_ms for o in dca}) == 12
    firsts = {exchange.orders(names[f"dca-{i}"])[-1].created_at_ms for i in range(1, 5)}
    assert len(firsts) == 4  # the bots of a group do not fire in one burst
    grid_active = exchange.orders(names["grid-1"], status="active")
    assert 0 < len(grid_active) <= 6


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"steps": [{"do": "explode"}]}, r"steps\[0\]\.do: expected one of"),
        ({"steps": [{"do": "order", "symbol": "BTC-USDT"}]}, r"missing fields \['side'\]"),
        ({"steps": [{"do": "tick", "at": "soon"}]}, r"steps\[0\] \(tick\)\.at: expected a dur"),
        ({"steps": [{"do": "dump", "symbol": "X", "account": "a", "group": "b"}]}, "exactly one"),
        (
            {"steps": [{"do": "price", "symbol": "X", "price": "-1"}]},
            r"steps\[0\] \(price\)\.price: must be a positive",
        ),
        ({"steps": [{"do": "tick", "every": "1h"}]}, "every and until go together"),
        ({"speed": "-1", "steps": [{"do": "tick"}]}, "speed"),
        ({"steps": []}, "non-empty list"),
        ({"steps": [{"do": "tick"}], "seeds": 1}, "unknown top-level fields"),
    ],
)
def test_a_bad_script_is_refused_naming_the_step_and_field(
    document: dict[str, Any], message: str
) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse(document)


def test_a_step_naming_an_unknown_account_or_symbol_stops_the_run_with_the_reason() -> None:
    apps = _apps()
    bad = {"steps": [{"do": "dump", "group": "ghosts", "symbol": "BTC-USDT"}]}
    report = ScenarioRun(apps.state, parse(bad)).run_all()
    assert report["status"] == "failed" and "no group named 'ghosts'" in report["error"]
    bad = {"steps": [{"do": "price", "symbol": "NOPE-USDT", "price": "1"}]}
    report = ScenarioRun(apps.state, parse(bad)).run_all()
    assert report["status"] == "failed" and "no spot symbol 'NOPE-USDT'" in report["error"]


async def test_control_route_runs_a_script_and_its_accounts_trade_over_rest() -> None:
    wall = {"do": "ladder", "account": "seller-1", "symbol": "THIN-USDT", "side": "sell",
            "from": "0.06", "to": "0.09", "levels": 4, "size": "100", "at": "1s"}  # fmt: skip
    seller_step = {"do": "accounts", "group": "seller", "hf": True, "balances": {"THIN": "1000"}}
    script = {"seed": 1, "steps": [seller_step, wall]}
    async with running_sim() as sim:
        report = await sim.admin("POST", "/_sim/scenario?wait=true", script)
        assert (report["status"], report["orders"]) == ("done", 4)
        seller = report["accounts"]["seller-1"]
        assert {"uid", "apiKey", "secret", "passphrase"} <= set(seller)
        active = await sim.ok(seller, "GET", "/api/v1/hf/orders/active?symbol=THIN-USDT")
        assert sorted(o["price"] for o in active) == ["0.06", "0.07", "0.08", "0.09"]
        paced = {"seed": 1, "speed": 20, "steps": [{"do": "tick", "every": "1s", "until": "4s"}]}
        started = await sim.admin("POST", "/_sim/scenario", paced)
        assert started["status"] == "running"  # 4 s of scenario time at 20x: about 0.2 s
        async with asyncio.timeout(20):
            while (await sim.admin("GET", f"/_sim/scenario/{started['id']}"))["status"] != "done":
                await asyncio.sleep(0.05)
        async with sim.session.post(sim.spot + "/_sim/scenario", json={"steps": []}) as resp:
            assert resp.status == 400 and "steps" in (await resp.json())["msg"]
        async with sim.session.get(sim.spot + "/_sim/scenario/nope") as resp:
            assert resp.status == 404


async def test_cli_plays_a_file_on_a_running_simulator(tmp_path: Path) -> None:
    script = tmp_path / "s.json"
    script.write_text(json.dumps({"steps": [{"do": "accounts", "group": "a", "count": 2}]}))
    bad = tmp_path / "bad.toml"
    bad.write_text('[[steps]]\ndo = "order"\n')
    async with running_sim() as sim:
        runner = CliRunner()
        result = await asyncio.to_thread(
            runner.invoke, cli_app, ["sim", "scenario", str(script), "--url", sim.spot]
        )
        assert result.exit_code == 0, result.output
        report = json.loads(result.output)
        assert report["status"] == "done" and set(report["accounts"]) == {"a-1", "a-2"}
        result = await asyncio.to_thread(
            runner.invoke, cli_app, ["sim", "scenario", str(bad), "--url", sim.spot]
        )
        assert result.exit_code == 2 and "missing fields" in result.output
    assert read(example("bots"))["backfill"] is True  # the bundled examples parse
    assert load(example("bots")).duration_ms == 30 * 86_400_000
