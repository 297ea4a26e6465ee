"""Running a scenario against a simulator's state: the market side of a test, by account.

Time: every step runs with the engine time ``start + at`` (``start`` is the simulator's clock
when the run begins, or that minus the scenario's duration with ``backfill``), so the same seed,
scenario and starting state give the same orders, fills and prices. ``speed`` only paces the
run against the wall clock: 0 runs every step at once, 1 in real time, 3600 an hour a second.

Accounts are named ``<group>-<i>`` (``attacker-1`` ...) and registered on the simulator, so a
later scenario (or the control API's answer) can use them; each gets an API key like
``POST /_sim/accounts``. A step that names an unknown account, group or symbol stops the run
(status ``failed`` with the reason); an order the exchange refuses is tallied and the run goes
on. Actions are listed in :mod:`kucoin_sim.scenario.spec` and in ``docs/simulator.md``.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from kucoin_sim.accounts import SpecError, create_account, parse_balances
from kucoin_sim.engine import AccountType, EngineError, Side, TimeInForce
from kucoin_sim.scenario.bots import Bot, make_bot
from kucoin_sim.scenario.desk import Desk
from kucoin_sim.scenario.spec import Event, Scenario, ScenarioError, decimal, integer

if TYPE_CHECKING:
    from kucoin_sim.state import SimState


@dataclass(order=True)
class _Due:
    at_ms: int
    seq: int
    n: int
    event: Event | None = field(compare=False, default=None)
    bot: Bot | None = field(compare=False, default=None)
    every_ms: int = field(compare=False, default=0)
    until_ms: int = field(compare=False, default=0)


class ScenarioRun:
    """One run of a scenario; :meth:`run_all` (speed 0) or ``await`` :meth:`run`."""

    def __init__(self, state: SimState, scenario: Scenario, run_id: str = "") -> None:
        if scenario.backfill and scenario.speed > 0:
            raise ScenarioError("backfill needs speed 0: a history in the past cannot be paced")
        self.state = state
        self.scenario = scenario
        self.id = run_id
        self.rng = random.Random(scenario.seed)
        self.desk = Desk(state)
        now = state.now_ms()
        self.start_ms = now - scenario.duration_ms if scenario.backfill else now
        self.status = "running"
        self.error: str | None = None
        self.executed = 0
        self.last_ms = self.start_ms
        self.accounts: dict[str, dict[str, Any]] = {}
        self.symbols: set[str] = set()
        self._n = itertools.count()
        self._heap = [_Due(e.at_ms, e.seq, next(self._n), e) for e in scenario.events]
        heapq.heapify(self._heap)

    # -- driving -------------------------------------------------------------------------------

    def run_all(self) -> dict[str, Any]:
        """Every step now, in time order (engine times still ``start + at``); the report."""
        try:
            while self._heap:
                self._do(heapq.heappop(self._heap))
            self.status = "done"
        except (ScenarioError, SpecError) as exc:
            self._fail(exc)
        return self.report()

    async def run(self) -> dict[str, Any]:
        """Every step when its time comes (``speed``), yielding to the server in between."""
        wall_start = self.state.now_ms()
        speed = self.scenario.speed
        try:
            while self._heap:
                due = self._heap[0]
                if speed > 0:
                    wait_ms = wall_start + int(due.at_ms / speed) - self.state.now_ms()
                    await asyncio.sleep(max(wait_ms, 0) / 1000)
                else:
                    await asyncio.sleep(0)
                self._do(heapq.heappop(self._heap))
            self.status = "done"
        except (ScenarioError, SpecError) as exc:
            self._fail(exc)
        except asyncio.CancelledError:
            self.status = "cancelled"
            raise
        return self.report()

    def _fail(self, exc: Exception) -> None:
        self.status, self.error = "failed", str(exc)

    def _do(self, due: _Due) -> None:
        now = self.start_ms + due.at_ms
        self.last_ms = now
        self.executed += 1
        if due.bot is not None:
            due.bot.step(self.desk, now)
            nxt = due.at_ms + due.every_ms
            if nxt <= due.until_ms:
                heapq.heappush(self._heap, _Due(nxt, due.seq, next(self._n), None, due.bot,
                                                due.every_ms, due.until_ms))  # fmt: skip
            return
        assert due.event is not None  # noqa: S101 (every entry carries an event or a bot)
        event = due.event
        fields = {**event.step.fields, **event.fields}
        getattr(self, "_" + event.step.do)(event, fields, now)

    # -- look-ups ------------------------------------------------------------------------------

    def _members(self, event: Event, fields: Mapping[str, Any]) -> list[str]:
        """The uids a step acts for: its ``account`` or every member of its ``group``."""
        names = self.state.scenario_names
        if "account" in fields:
            name = fields["account"]
            if name not in names:
                raise ScenarioError(f"{event.step.where('account')}: no account named {name!r}")
            return [names[name]]
        group = fields.get("group")
        members = self.state.scenario_groups.get(str(group))
        if not members:
            raise ScenarioError(f"{event.step.where('group')}: no group named {group!r}")
        return [names[m] for m in members]

    def _symbol(self, event: Event, fields: Mapping[str, Any]) -> str:
        symbol = fields["symbol"]
        if not isinstance(symbol, str) or symbol not in self.state.exchange.symbols:
            raise ScenarioError(f"{event.step.where('symbol')}: no spot symbol {symbol!r}")
        self.symbols.add(symbol)
        return symbol

    # -- actions -------------------------------------------------------------------------------

    def _accounts(self, event: Event, fields: Mapping[str, Any], now: int) -> None:
        group = str(fields["group"])
        count = integer(fields.get("count", 1), event.step.where("count"))
        spec = {k: fields[k] for k in ("hf", "balances", "permissions") if k in fields}
        members = self.state.scenario_groups.setdefault(group, [])
        for _ in range(count):
            name = f"{group}-{len(members) + 1}"
            answer = create_account(self.state, spec, now)
            self.state.scenario_names[name] = answer["uid"]
            members.append(name)
            self.accounts[name] = answer

    def _fund(self, event: Event, fields: Mapping[str, Any], now: int) -> None:
        balances = parse_balances(fields["balances"])
        for uid in self._members(event, fields):
            account = fields.get("accountType")
            kind = AccountType(account) if account else self.desk.account_type(uid)
            for currency, amount in balances.items():
                self.state.exchange.fund(uid, kind, currency, amount, now)

    def _order(self, event: Event, fields: Mapping[str, Any], now: int) -> None:
        symbol, side = self._symbol(event, fields), Side(fields["side"])
        where = event.step.where
        limit = fields.get("type", "limit" if "price" in fields else "market") == "limit"
        price = decimal(fields["price"], where("price")) if limit else None
        size = decimal(fields["size"], where("size")) if "size" in fields else None
        funds = decimal(fields["funds"], where("funds")) if "funds" in fields else None
        tif = TimeInForce(fields.get("tif", "GTC"))
        for uid in self._members(event, fields):
            self.desk.place(uid, symbol, side, now, price=price, size=size, funds=funds,
                            tif=tif, post_only=bool(fields.get("postOnly", False)))  # fmt: skip

    def _ladder(self, event: Event, fields: Mapping[str, Any], now: int) -> None:
        """Limit orders at ``levels`` prices from ``from`` to ``to``, spread over the accounts."""
        symbol, side = self._symbol(event, fields), Side(fields["side"])
        where = event.step.where
        low, high = decimal(fields["from"], where("from")), decimal(fields["to"], where("to"))
        levels = integer(fields["levels"], where("levels"))
        size = decimal(fields["size"], where("size"))
        uids = self._members(event, fields)
        for i in range(levels):
            step = (high - low) * i / (levels - 1) if levels > 1 else Decimal(0)
            price = self.desk.to_tick(symbol, low + step, up=side is Side.SELL)
            self.desk.place(uids[i % len(uids)], symbol, side, now, price=price, size=size)

    def _dump(self, event: Event, fields: Mapping[str, Any], now: int) -> None:
        """Sell every account's whole available base balance at market."""
        symbol = self._symbol(event, fields)
        spec = self.state.exchange.symbols[symbol]
        for uid in self._members(event, fields):
            size = self.desk.to_size(symbol, self.desk.available(uid, spec.base))
            if size >= spec.base_min_size:
                self.desk.place(uid, symbol, Side.SELL, now, size=size)

    def _cancel(self, event: Event, fields: Mapping[str, Any], now: int) -> None:
        symbol = self._symbol(event, fields) if "symbol" in fields else None
        uids = self._members(event, fields) if {"account", "group"} & set(fields) else []
        for uid in uids:
            self.desk.cancel_all(uid, symbol, now)

    def _price(self, event: Event, fields: Mapping[str, Any], now: int) -> None:
        symbol = self._symbol(event, fields)
        if "price" in fields:
            price = decimal(fields["price"], event.step.where("price"))
        else:
            current = self.state.exchange.last_price(symbol) or self.desk.mid(symbol)
            if current is None:
                raise ScenarioError(f"{event.step.where('move')}: {symbol} has no price yet")
            price = current * (1 + Decimal(str(fields["move"])))
        price = self.desk.to_tick(symbol, price, up=False)
        try:
            self.state.exchange.set_price(symbol, price, now)
        except EngineError as exc:
            self.desk.refuse(now, "price", "", exc.code, exc.message)

    _ramp = _price
    _walk = _price

    def _tick(self, event: Event, fields: Mapping[str, Any], now: int) -> None:
        self.state.exchange.tick(now)

    def _bots(self, event: Event, fields: Mapping[str, Any], now: int) -> None:
        step = event.step
        every, until = step.every_ms or 0, step.until_ms or 0
        for symbol in fields.get("symbols", [fields.get("symbol")]):
            self._symbol(event, {"symbol": symbol})
        for uid in self._members(event, fields):
            bot = make_bot(uid, fields, self.rng, step.where())
            first = event.at_ms + self.rng.randrange(every)
            if first <= until:
                heapq.heappush(self._heap, _Due(first, step.index, next(self._n), None, bot,
                                                every, until))  # fmt: skip

    # -- answer --------------------------------------------------------------------------------

    def report(self) -> dict[str, Any]:
        """Status, tallies, the accounts this run created (with keys) and the final prices."""
        prices = {}
        for symbol in sorted(self.symbols):
            last = self.state.exchange.last_price(symbol)
            prices[symbol] = None if last is None else str(last)
        return {
            "id": self.id,
            "status": self.status,
            "error": self.error,
            "seed": self.scenario.seed,
            "startMs": self.start_ms,
            "lastMs": self.last_ms,
            "events": self.executed,
            "orders": self.desk.orders,
            "refused": self.desk.refused,
            "refusals": self.desk.refusals,
            "accounts": self.accounts,
            "prices": prices,
        }
