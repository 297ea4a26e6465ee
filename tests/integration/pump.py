"""The stolen-key pump replay (issue 13, "Pump replay"): harness shared by its tests.

The 3Commas (2022) / Binance VIA-BTC (2018) pattern, end to end through the gateway:

- market side, directly at the simulator (the scenario runner): attacker accounts put sell walls
  on the illiquid THIN-USDT from 1.6x to 6x its price;
- 20 victims, each a tenant of its own with a simulator account holding BTC and USDT, connected to
  the gateway and holding a gateway key with ``read`` and ``trade:spot`` (what a trading bot
  service keeps, and what leaked); each key's bot has rested one small BTC bid from its own
  address before the leak;
- the attacker script uses THOSE gateway keys, through the gateway's HTTP API and from an address
  the keys never used: it sells each victim's BTC at market, then buys THIN-USDT at rising limit
  prices (IOC, each 9% above the best ask) into the walls, in waves over all victims, and keeps
  trying with what is left.

:func:`replay` returns what happened: the attack orders each victim's key got accepted, when the
symbol was blocked gateway-wide (if ever), and each victim's value before and after at reference
prices (the pre-attack mids), which :meth:`PumpResult.report` prints.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

import httpx

from kcgateway.gateway.apikeys import Scope
from kcgateway.risk import Limits, TradingState
from kcgateway.store.alert_store import AlertFilter
from kucoin_sim.scenario import ScenarioRun, parse
from tests.helpers.gateway import Stack, Tenant, auth, gateway_stack, warm_risk

D = Decimal
THIN = "THIN-USDT"
#: the attacker's address: the stolen keys never traded from it
ATTACKER_IP = "203.0.113.66"
VICTIM_BALANCES = {"USDT": "2000", "BTC": "0.02"}
#: each buy is priced this far above the best ask (KuCoin's price protection stops at 10%)
STEP_UP = D("1.09")
#: the share of its remaining USDT each victim spends in each buy wave
WAVES = (D("0.3"), D("0.5"), D(1), D(1), D(1))

#: the market side: the sellers and their walls (the accounts stay registered at the simulator)
WALLS: dict[str, Any] = {
    "seed": 7,
    "speed": 0,
    "steps": [
        {
            "do": "accounts",
            "group": "attacker",
            "count": 31,
            "hf": True,
            "balances": {"THIN": "20000"},
        },
        {
            "do": "ladder",
            "group": "attacker",
            "symbol": THIN,
            "side": "sell",
            "from": "0.08",
            "to": "0.30",
            "levels": 31,
            "size": "20000",
        },
    ],
}


@dataclass
class Victim:
    name: str
    tenant: Tenant
    key: str
    #: (order number, HTTP status, answer) of every attack order sent with this key
    attempts: list[tuple[int, int, dict[str, Any]]] = field(default_factory=list)
    #: how many attack orders the gateway had accepted when the account was first seen HALTED
    halted_after: int | None = None
    before: Decimal = Decimal(0)
    after: Decimal = Decimal(0)

    @property
    def accepted(self) -> int:
        return sum(1 for _, status, _ in self.attempts if status == 201)

    @property
    def loss_pct(self) -> Decimal:
        return (self.before - self.after) / self.before * 100 if self.before else D(0)


@dataclass
class PumpResult:
    victims: list[Victim]
    reference: dict[str, Decimal]
    first_thin_buy_s: float | None = None
    #: seconds from the first THIN-USDT buy sent to the symbol on the gateway's block list
    blocked_after_s: float | None = None
    walls: dict[str, Any] = field(default_factory=dict)
    #: (kind, summary, subjects) of every alert the gateway raised during the run
    alerts: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)

    @property
    def before(self) -> Decimal:
        return sum((v.before for v in self.victims), D(0))

    @property
    def after(self) -> Decimal:
        return sum((v.after for v in self.victims), D(0))

    @property
    def loss_pct(self) -> Decimal:
        return (self.before - self.after) / self.before * 100

    def report(self, label: str) -> str:
        ref = ", ".join(f"{c} {p}" for c, p in sorted(self.reference.items()))
        lines = [
            f"pump replay, {label}: {len(self.victims)} victims valued at {ref}",
            f"  total before {self.before:.2f} USDT, after {self.after:.2f} USDT, "
            f"loss {self.before - self.after:.2f} USDT ({self.loss_pct:.1f}%)",
            f"  {THIN} blocked gateway-wide: "
            + ("never" if self.blocked_after_s is None else f"{self.blocked_after_s:.2f} s")
            + " after the first buy",
            f"  alerts raised: {len(self.alerts)} "
            f"({dict(Counter(kind for kind, _, _ in self.alerts))})",
        ]
        for v in self.victims:
            codes = sorted({_code(a) for _, s, a in v.attempts if s != 201})
            lines.append(
                f"  {v.name}: accepted {v.accepted}/{len(v.attempts)} attack orders, "
                f"halted after {v.halted_after}, before {v.before:.2f} after {v.after:.2f} "
                f"(loss {v.loss_pct:.1f}%) refusals {codes}"
            )
        return "\n".join(lines)


def _code(answer: dict[str, Any]) -> str:
    if "state" in answer:  # an order the gateway sent: the exchange's answer
        return f"exchange {answer['state']}"
    failures = answer.get("failures")
    if isinstance(failures, list) and failures:
        return ",".join(str(f.get("code")) for f in failures if isinstance(f, dict))
    return str(answer.get("error") or answer.get("code") or answer)[:80]


async def mid(stack: Stack, symbol: str) -> Decimal:
    """The simulator's mid price of ``symbol`` (public level 1)."""
    url = f"{stack.sim.spot_url}/api/v1/market/orderbook/level1?symbol={symbol}"
    async with stack.session.get(url) as resp:
        data = (await resp.json())["data"]
    return (D(data["bestBid"]) + D(data["bestAsk"])) / 2


async def value(stack: Stack, uid: str, reference: dict[str, Decimal]) -> Decimal:
    """Everything the user holds at the simulator (every account, holds included) in USDT."""
    lines = await stack.sim_admin("GET", f"/_sim/balances?uid={uid}")
    total = D(0)
    for line in lines:
        amount = D(line["balance"])
        if amount:
            total += amount * reference[line["currency"]]
    return total


def account_halted(stack: Stack, victim: Victim) -> bool:
    risk = stack.services.risk
    assert risk is not None
    states = risk.states_for(victim.tenant.id, victim.tenant.account_id, "")
    return TradingState.HALTED in (states.account, states.tenant, states.gateway)


def symbol_blocked(stack: Stack, symbol: str) -> bool:
    risk = stack.services.risk
    assert risk is not None
    return symbol in risk.blocked


async def follow(stack: Stack, tenant: Tenant) -> None:
    """Have the risk engine load the account before its first order (see ``warm_risk``)."""
    await warm_risk(stack, tenant.id, tenant.account_id)


async def _victim(stack: Stack, n: int) -> Victim:
    tenant = await stack.add_tenant(f"victim-{n}", balances=dict(VICTIM_BALANCES))
    key = await stack.key(tenant, Scope.READ, Scope.TRADE_SPOT)
    await follow(stack, tenant)
    return Victim(f"victim-{n}", tenant, key)


async def _bot_order(stack: Stack, victim: Victim, n: int) -> None:
    """The key's legitimate use before the leak: its trading bot, from the bot's own address,
    rests a small BTC bid 3% under the market (so the key has a known address)."""
    price = (await mid(stack, "BTC-USDT") * D("0.97")).quantize(D("0.1"), rounding=ROUND_DOWN)
    body = {"account": "main", "symbol": "BTC-USDT", "side": "buy", "type": "limit"}
    async with stack.client(f"10.0.0.{n + 1}") as bot:
        got = await bot.post(
            "/v1/orders", json={**body, "price": str(price), "size": "0.0001"},
            headers=auth(victim.key),
        )  # fmt: skip
    assert got.status_code == 201, got.text


async def _available(attacker: httpx.AsyncClient, victim: Victim, currency: str) -> Decimal:
    got = await attacker.get("/v1/balances", params={"account": "main"}, headers=auth(victim.key))
    if got.status_code != 200:
        return D(0)
    return sum((D(b["available"]) for b in got.json() if b["currency"] == currency), D(0))


async def _send(
    stack: Stack, attacker: httpx.AsyncClient, victim: Victim, body: dict[str, Any]
) -> None:
    number = len(victim.attempts) + 1
    answer = await attacker.post("/v1/orders", json=body, headers=auth(victim.key))
    try:
        data = answer.json()
    except ValueError:
        data = {"raw": answer.text[:200]}
    victim.attempts.append((number, answer.status_code, data))
    if victim.halted_after is None and account_halted(stack, victim):
        victim.halted_after = victim.accepted


async def _dump(stack: Stack, attacker: httpx.AsyncClient, victim: Victim) -> None:
    """Order 1: the victim's whole BTC at market."""
    btc = await _available(attacker, victim, "BTC") or D(VICTIM_BALANCES["BTC"])
    body = {"account": "main", "symbol": "BTC-USDT", "side": "sell", "type": "market"}
    await _send(stack, attacker, victim, {**body, "size": str(btc)})


async def best_ask(stack: Stack, symbol: str) -> Decimal:
    """The best ask of ``symbol`` (public level 1: what any attacker sees)."""
    url = f"{stack.sim.spot_url}/api/v1/market/orderbook/level1?symbol={symbol}"
    async with stack.session.get(url) as resp:
        return D((await resp.json())["data"]["bestAsk"])


async def _buy(stack: Stack, attacker: httpx.AsyncClient, victim: Victim, share: Decimal) -> None:
    """A THIN-USDT buy (IOC) 9% above the best ask, spending ``share`` of the victim's USDT.

    9%: as far up as KuCoin's price protection (``priceLimitRate`` 10%) lets one order trade,
    so each order walks the price up through the walls.
    """
    price = (await best_ask(stack, THIN) * STEP_UP).quantize(D("0.0001"), rounding=ROUND_DOWN)
    usdt = await _available(attacker, victim, "USDT")
    size = (usdt * share / price).quantize(D(1), rounding=ROUND_DOWN)
    if size < 1:
        size = D(1000)  # the attacker does not know it is broke; the order is sent anyway
    body = {
        "account": "main",
        "symbol": THIN,
        "side": "buy",
        "type": "limit",
        "price": str(price),
        "size": str(size),
        "timeInForce": "IOC",
    }
    await _send(stack, attacker, victim, body)


async def _watch_block(stack: Stack, result: PumpResult, stop: asyncio.Event) -> None:
    while not stop.is_set():
        if result.first_thin_buy_s is not None and symbol_blocked(stack, THIN):
            result.blocked_after_s = time.monotonic() - result.first_thin_buy_s
            return
        await asyncio.sleep(0.02)


#: the production limits: every default, every check on (not the test stack's loosened ones)
PRODUCTION = Limits(max_order_notional=D(100_000))


async def replay(
    tmp_path: Path,
    *,
    engine: bool,
    dump: bool = True,
    victims: int = 20,
    block_within_s: float = 10.0,
) -> PumpResult:
    """Run the whole pump once on a fresh stack with the production limits.

    ``dump=False``: the attacker skips the BTC dump and goes straight for the pump with the
    victims' USDT (a stealthier order of work: the holdings-dump signal cannot catch it).

    ``engine=False`` takes the risk engine out of this stack's order router only (the router
    then keeps just its maximum notional per order): the damage the engine prevents.
    """
    async with gateway_stack(tmp_path, tick_ms=0, risk_limits=PRODUCTION) as stack:
        if not engine:
            stack.services.orders.risk = None
        walls = ScenarioRun(stack.sim.state, parse(WALLS)).run_all()
        assert walls["status"] == "done", walls
        assert walls["refused"] == 0, walls["refusals"]
        reference = {
            "USDT": D(1),
            "BTC": await mid(stack, "BTC-USDT"),
            "THIN": await mid(stack, THIN),
        }
        people = [await _victim(stack, n) for n in range(victims)]
        for n, v in enumerate(people):
            await _bot_order(stack, v, n)
        for v in people:
            v.before = await value(stack, v.tenant.sim_account["uid"], reference)
        result = PumpResult(people, reference, walls=walls)
        stop = asyncio.Event()
        watcher = asyncio.create_task(_watch_block(stack, result, stop))
        async with stack.client(ATTACKER_IP) as attacker:
            # the stolen keys wake up: every victim's BTC dumped at market, all at once
            if dump:
                await asyncio.gather(*(_dump(stack, attacker, v) for v in people))
            # then the money buys THIN at rising prices, in waves over all victims
            # then the money buys THIN at rising prices, in waves over all victims (one order
            # at a time: each is priced off the book the previous one left)
            result.first_thin_buy_s = time.monotonic()
            for share in WAVES:
                for v in people:
                    await _buy(stack, attacker, v, share)
        if engine:
            # the goal: blocked within 10 s of the first buy (waited for, plus a margin)
            assert result.first_thin_buy_s is not None
            deadline = result.first_thin_buy_s + block_within_s + 1
            while result.blocked_after_s is None and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        stop.set()
        await watcher
        handlers, alerts = stack.services.risk_handlers, stack.services.alerts
        if handlers is not None and alerts is not None:
            await handlers.drain()  # alerts are written in the background
            result.alerts = [
                (a.kind, a.summary, a.subjects) for a in await alerts.find(AlertFilter(limit=1000))
            ]
        for v in people:
            v.after = await value(stack, v.tenant.sim_account["uid"], reference)
            if v.halted_after is None and account_halted(stack, v):
                v.halted_after = v.accepted
        return result
