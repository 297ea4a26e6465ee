"""Ordinary bot traffic for scenarios: DCA, grid and market-making bots, one per account.

Each bot's :meth:`Bot.step` runs once per period (the runner schedules it, every bot of a group
starting at its own seeded offset within the first period, so a group does not fire in one
burst). Random choices come from the run's seeded generator: the same seed gives the same
orders.

- ``dca``: buys ``funds`` of a symbol at market each period (the symbol drawn from ``symbols``).
- ``grid``: first places ``levels`` buys and sells ``step`` (relative) apart around the mid,
  ``size`` each; afterwards every filled level is replaced by the opposite order one step away.
- ``mm``: cancels its quotes and quotes a bid and an ask ``spread`` (relative) from the mid.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from kucoin_sim.engine import OrderStatus, Side
from kucoin_sim.scenario.desk import Desk
from kucoin_sim.scenario.spec import ScenarioError, decimal, integer

ONE = Decimal(1)


class Bot(Protocol):
    """One account's bot."""

    uid: str

    def step(self, desk: Desk, now_ms: int) -> None:
        """Do one period's trading."""


@dataclass
class DcaBot:
    """Market buys of ``funds`` on a drawn symbol each period."""

    uid: str
    symbols: tuple[str, ...]
    funds: Decimal
    rng: random.Random

    def step(self, desk: Desk, now_ms: int) -> None:
        """Buy once."""
        symbol = self.rng.choice(self.symbols)
        desk.place(self.uid, symbol, Side.BUY, now_ms, funds=self.funds)


@dataclass
class GridBot:
    """A grid around the mid; filled levels flip to the other side."""

    uid: str
    symbol: str
    levels: int
    step_rate: Decimal
    size: Decimal
    resting: dict[str, tuple[Side, Decimal]] = field(default_factory=dict)
    started: bool = False

    def step(self, desk: Desk, now_ms: int) -> None:
        """Place the grid once, then replace what filled."""
        if not self.started:
            self.started = True
            mid = desk.mid(self.symbol)
            if mid is None:
                return
            for i in range(1, self.levels + 1):
                self._place(desk, Side.BUY, mid * (ONE - self.step_rate * i), now_ms)
                self._place(desk, Side.SELL, mid * (ONE + self.step_rate * i), now_ms)
            return
        for order_id, (side, price) in list(self.resting.items()):
            order = desk.order(self.uid, order_id, now_ms)
            if order is not None and order.status is not OrderStatus.DONE:
                continue
            del self.resting[order_id]
            if order is not None and order.deal_size > 0:  # filled: the other side, one step on
                if side is Side.BUY:
                    self._place(desk, Side.SELL, price * (ONE + self.step_rate), now_ms)
                else:
                    self._place(desk, Side.BUY, price * (ONE - self.step_rate), now_ms)

    def _place(self, desk: Desk, side: Side, price: Decimal, now_ms: int) -> None:
        price = desk.to_tick(self.symbol, price, up=side is Side.SELL)
        order = desk.place(self.uid, self.symbol, side, now_ms, price=price, size=self.size)
        if order is not None and order.status is not OrderStatus.DONE:
            self.resting[order.id] = (side, price)


@dataclass
class MarketMakerBot:
    """Two quotes ``spread`` from the mid, renewed each period."""

    uid: str
    symbol: str
    spread: Decimal
    size: Decimal

    def step(self, desk: Desk, now_ms: int) -> None:
        """Cancel and re-quote."""
        desk.cancel_all(self.uid, self.symbol, now_ms)
        mid = desk.mid(self.symbol)
        if mid is None:
            return
        bid = desk.to_tick(self.symbol, mid * (ONE - self.spread), up=False)
        ask = desk.to_tick(self.symbol, mid * (ONE + self.spread), up=True)
        desk.place(self.uid, self.symbol, Side.BUY, now_ms, price=bid, size=self.size)
        desk.place(self.uid, self.symbol, Side.SELL, now_ms, price=ask, size=self.size)


def _symbols(fields: Mapping[str, Any], where: str) -> tuple[str, ...]:
    raw = fields.get("symbols", [fields["symbol"]] if "symbol" in fields else None)
    if not isinstance(raw, list) or not raw or not all(isinstance(s, str) for s in raw):
        raise ScenarioError(f"{where}: give symbol or a list of symbols")
    return tuple(raw)


def make_bot(uid: str, fields: Mapping[str, Any], rng: random.Random, where: str) -> Bot:
    """The bot of ``kind`` for one account, from the step's fields."""
    kind, symbols = fields["kind"], _symbols(fields, where)
    if kind == "dca":
        return DcaBot(uid, symbols, decimal(fields.get("funds", "50"), f"{where}.funds"), rng)
    size = decimal(fields.get("size"), f"{where}.size")
    if kind == "grid":
        levels = integer(fields.get("levels", 5), f"{where}.levels")
        step = decimal(fields.get("step", "0.01"), f"{where}.step")
        return GridBot(uid, symbols[0], levels, step, size)
    spread = decimal(fields.get("spread", "0.001"), f"{where}.spread")
    return MarketMakerBot(uid, symbols[0], spread, size)
