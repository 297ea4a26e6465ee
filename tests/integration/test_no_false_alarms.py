"""No false alarms (issue 13, Tests): ordinary bot traffic halts nothing, blocks nothing, alerts
nothing.

Pushing 200 accounts' 30 days of orders through HTTP is too slow for CI, so the test has two
parts, both with the production limits (``Limits`` defaults, every check on):

1. **The full flow, pure engine.** ``kucoin_sim``'s ``bots.toml`` scaled to 200 accounts (165
   DCA bots buying BTC, ETH or SOL daily, 30 grid bots on ETH-USDT hourly, 5 market makers on
   BTC-USDT every 30 min, the market makers' random walk hourly), 30 compressed days ending now,
   run in-process by the scenario runner. Before each of its ~20,000 orders reaches the
   simulator's engine, :func:`kcgateway.risk.evaluate` judges it with the views the gateway would
   hold at that instant (book, 24 h volume and rank, a baseline that follows the price as the
   engine's does, balances, positions, open orders, the account's flow and the gateway-wide buys
   of the symbol) and ``now_ms`` = the order's compressed time; halts and blocks are applied as
   RiskControl would (``tests/integration/flow_replay.py``). Run once, shared by the tests.
2. **A sample through the gateway.** 9 tenants (3 DCA, 3 grid, 3 market-making bots, each from
   its own address) send the same kinds of orders over HTTP for a few rounds in real time, with
   the whole engine on.
"""

from __future__ import annotations

import asyncio
import tomllib
from dataclasses import asdict
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

from kcgateway.gateway.apikeys import Scope
from kcgateway.risk import TradingState
from kcgateway.store.alert_store import AlertFilter
from kucoin_sim.app import build_apps
from kucoin_sim.config import SimConfig
from kucoin_sim.engine.config import DEFAULT_MARKET_MAKERS
from kucoin_sim.scenario import ScenarioRun, example, load, parse
from tests.helpers.gateway import Stack, auth, gateway_stack
from tests.integration.flow_replay import FlowReplay
from tests.integration.pump import PRODUCTION, follow, mid

D = Decimal
#: 200 accounts: the groups of bots.toml, scaled
COUNTS = {"dca": 165, "grid": 30, "mm": 5}
#: the symbols the bots trade: only their market makers run (the others' hourly re-quotes
#: would triple the simulator's work for nothing)
TRADED = frozenset({"BTC-USDT", "ETH-USDT", "SOL-USDT"})
_FLOW: list[FlowReplay] = []


def _makers() -> list[dict[str, Any]]:
    """The default market makers of the traded symbols, as configuration entries."""
    return [
        {k: v if isinstance(v, int) else str(v) for k, v in asdict(m).items() if v is not None}
        for m in DEFAULT_MARKET_MAKERS
        if m.symbol in TRADED
    ]


def _flow() -> FlowReplay:
    if not _FLOW:
        raw = tomllib.loads(example("bots").read_text())
        for step in raw["steps"]:
            if step.get("do") == "accounts":
                step["count"] = COUNTS[step["group"]]
        apps = build_apps(SimConfig(tick_ms=0, engine={"market_makers": _makers()}), 7)
        run = ScenarioRun(apps.state, parse(raw))
        replay = FlowReplay(run, PRODUCTION)
        replay.install()
        report = run.run_all()
        assert report["status"] == "done", report.get("error")
        assert len(report["accounts"]) == sum(COUNTS.values()), report["accounts"]
        print(replay.summary())
        _FLOW.append(replay)
    return _FLOW[0]


def test_30_days_of_200_bots_halt_nothing_block_nothing_and_refuse_nothing() -> None:
    flow = _flow()
    summary = flow.summary()
    assert flow.orders > 15_000, summary  # the flow really ran: ~20,000 orders
    assert not [a for a, s in flow.states.items() if s is not TradingState.ACTIVE], summary
    assert not flow.blocked, summary
    assert not [s for s in flow.signals if s.code != "risk.detector.dormant_key"], summary
    assert flow.allowed == flow.orders, summary


def test_30_days_of_200_bots_raise_no_alert() -> None:
    flow = _flow()
    assert not flow.signals, flow.summary()


def test_the_same_replay_does_see_a_pump() -> None:
    """The canary: the replay can fail. pump.toml's victims (orders placed at the simulator)
    are halted by the same checks that stay quiet for the bots."""
    apps = build_apps(SimConfig(tick_ms=0), 7)
    run = ScenarioRun(apps.state, load(example("pump")))
    replay = FlowReplay(run, PRODUCTION, currencies=("USDT", "BTC", "THIN"))
    replay.install()
    assert run.run_all()["status"] == "done"
    victims = [uid for name, uid in _uids(run).items() if name.startswith("victim-")]
    assert len(victims) == 20
    halted = {a for a, s in replay.states.items() if s is TradingState.HALTED}
    assert set(victims) <= halted, replay.summary()
    codes = {s.code for s in replay.signals}
    assert {"risk.detector.holdings_dump", "risk.detector.pump_buy"} <= codes, replay.summary()


def _uids(run: ScenarioRun) -> dict[str, str]:
    return {name: acct["uid"] for name, acct in run.report()["accounts"].items()}


# -- part 2: a sample through the gateway ------------------------------------------------------

ROUNDS = 5
#: longer than the duplicate guard's 2 s window: a bot re-quoting the same price is no duplicate
ROUND_GAP_S = 2.3
BALANCES = {"USDT": "50000", "BTC": "1", "ETH": "10", "SOL": "50"}


def _price(value: Decimal, tick: str) -> str:
    return str(value.quantize(D(tick), rounding=ROUND_DOWN))


async def _orders(stack: Stack, kind: str, n: int, r: int) -> list[dict[str, Any]]:
    base = {"account": "main"}
    if kind == "dca":
        symbol = ("BTC-USDT", "ETH-USDT", "SOL-USDT")[(n + r) % 3]
        return [{**base, "symbol": symbol, "side": "buy", "type": "market", "funds": "25"}]
    if kind == "grid":
        m, step = await mid(stack, "ETH-USDT"), D("0.005") * (r % 3 + 1)
        return [
            {**base, "symbol": "ETH-USDT", "side": "buy", "price": _price(m * (1 - step), "0.01"),
             "size": "0.05"},
            {**base, "symbol": "ETH-USDT", "side": "sell", "price": _price(m * (1 + step), "0.01"),
             "size": "0.05"},
        ]  # fmt: skip
    m, spread = await mid(stack, "BTC-USDT"), D("0.0005") * (n + 1)
    return [
        {**base, "symbol": "BTC-USDT", "side": "buy", "price": _price(m * (1 - spread), "0.1"),
         "size": "0.002"},
        {**base, "symbol": "BTC-USDT", "side": "sell", "price": _price(m * (1 + spread), "0.1"),
         "size": "0.002"},
    ]  # fmt: skip


async def test_a_sample_of_bots_through_the_gateway_raises_nothing(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path, tick_ms=0, risk_limits=PRODUCTION) as stack:
        bots = []
        for i, kind in enumerate(("dca", "grid", "mm") * 3):
            tenant = await stack.add_tenant(f"{kind}-{i}", balances=dict(BALANCES))
            key = await stack.key(tenant, Scope.READ, Scope.TRADE_SPOT)
            await follow(stack, tenant)
            bots.append((kind, i, tenant, key, stack.client(f"10.0.1.{i + 1}")))
        answers: list[tuple[str, int, str]] = []
        try:
            for r in range(ROUNDS):
                for kind, i, _, key, http in bots:
                    for body in await _orders(stack, kind, i, r):
                        got = await http.post("/v1/orders", json=body, headers=auth(key))
                        answers.append((f"{kind}-{i} round {r}", got.status_code, got.text[:300]))
                await asyncio.sleep(ROUND_GAP_S)
        finally:
            for *_, http in bots:
                await http.aclose()
        refused = [a for a in answers if a[1] != 201]
        assert len(answers) == ROUNDS * 15, answers  # 3 DCA x 1 + 6 grid/MM x 2 per round
        assert not refused, refused
        risk, handlers = stack.services.risk, stack.services.risk_handlers
        alerts = stack.services.alerts
        assert risk is not None and handlers is not None and alerts is not None
        await handlers.drain()  # alerts are written in the background
        for _, _, tenant, _, _ in bots:
            states = risk.states_for(tenant.id, tenant.account_id, "")
            assert states.strictest()[0] is TradingState.ACTIVE, (tenant.id, states)
        assert not risk.blocked
        raised = await alerts.find(AlertFilter())
        assert not raised, [(a.kind, a.summary) for a in raised]
