"""Market makers: keep a book around a seeded random-walk mid so that orders fill as live.

Each maker is an *ephemeral* engine user (exempt from order limits, its done orders and fills
are not kept) funded with a very large balance, so it never runs out. On every :meth:`step` the
mid moves by a uniform random relative amount with standard deviation ``volatility`` (integer
random draws turned into Decimal: no float arithmetic touches prices), then the maker cancels its
quotes and quotes ``levels`` bids and asks again: level ``i`` at ``mid * (1 -/+ (spread + i *
step))``, rounded outward to the tick. Re-quoting through resting user orders trades with them,
exactly as a moving market would.

A *mirrored* maker (:meth:`MarketMaker.mirror`) quotes another market's book instead: the
levels and sizes it is given, which replace its quotes at each call; it no longer walks.
Fills against it are then at prices (and, level by level, sizes) the reference offered.
"""

from __future__ import annotations

import random
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from kucoin_sim.engine.config import MarketMakerConfig
from kucoin_sim.engine.types import (
    ONE,
    AccountType,
    EngineError,
    OrderRequest,
    Side,
)

if TYPE_CHECKING:
    from kucoin_sim.engine.exchange import Exchange

BIG = Decimal(10) ** 15
Level = tuple[Decimal, Decimal]
SQRT3_MILLI = 1732


class MarketMaker:
    """One symbol's market maker; see the module docstring."""

    #: quoting another market's book (:meth:`mirror`); also the value for makers saved before
    #: mirroring existed (a simulator state file restores objects without running __init__)
    mirrored = False

    def __init__(self, exchange: Exchange, cfg: MarketMakerConfig, rng: random.Random) -> None:
        self.exchange = exchange
        self.cfg = cfg
        self.rng = rng
        self.mid = cfg.mid
        self.symbol = cfg.symbol
        self.uid = exchange.create_user(f"mm-{cfg.symbol}", ephemeral=True)
        self.futures = cfg.symbol in exchange.contracts
        self.account_type = AccountType.FUTURES if self.futures else AccountType.TRADE
        for currency in exchange.currencies_of(cfg.symbol):
            exchange.fund(self.uid, self.account_type, currency, BIG, 0)
        self.tick_size = exchange.tick_size(cfg.symbol)
        self.quotes: list[str] = []

    def step(self, now_ms: int) -> None:
        """Move the mid one random step and re-quote (a mirrored maker keeps its book)."""
        if self.mirrored:
            return
        draw = Decimal(self.rng.randint(-SQRT3_MILLI, SQRT3_MILLI)) / 1000
        self.mid = max(self.mid * (ONE + draw * self.cfg.volatility), self.tick_size)
        self.quote(now_ms)

    def move_to(self, price: Decimal, now_ms: int) -> None:
        """Set the mid (admin ``set_price``) and re-quote."""
        self.mid = price
        self.quote(now_ms)

    def quote(self, now_ms: int) -> None:
        """Cancel every quote and place ``levels`` fresh ones on each side."""
        self._withdraw(now_ms)
        for i in range(self.cfg.levels):
            distance = self.cfg.spread + self.cfg.step * i
            bid = self._to_tick(self.mid * (ONE - distance), ROUND_FLOOR)
            ask = self._to_tick(self.mid * (ONE + distance), ROUND_CEILING)
            self._place(Side.SELL, ask, now_ms)
            if bid > 0:
                self._place(Side.BUY, bid, now_ms)

    def mirror(self, bids: list[Level], asks: list[Level], now_ms: int) -> None:
        """Quote exactly these levels (price, size), best first; stop the random walk.

        Asks are placed first, then bids, each side best first: a reference book never
        crosses itself, so the maker's own quotes never trade with each other; resting user
        orders the new levels cross trade with them, as the reference market moved through.
        """
        self.mirrored = True
        self._withdraw(now_ms)
        for price, size in asks:
            self._place(Side.SELL, price, now_ms, size)
        for price, size in bids:
            self._place(Side.BUY, price, now_ms, size)
        if bids and asks:
            self.mid = (bids[0][0] + asks[0][0]) / 2
        elif bids or asks:
            self.mid = (bids or asks)[0][0]

    def _withdraw(self, now_ms: int) -> None:
        ex = self.exchange
        for order_id in self.quotes:
            order = ex.registry.get(order_id)
            if order is not None and order.active:
                ex.cancel(self.uid, order_id, now_ms)
        self.quotes = []

    def mid_on_tick(self) -> Decimal:
        """The mid rounded to the nearest tick."""
        return self._to_tick(self.mid, ROUND_HALF_UP)

    def _to_tick(self, price: Decimal, rounding: str) -> Decimal:
        ticks = (price / self.tick_size).to_integral_value(rounding=rounding)
        return ticks * self.tick_size

    def _place(self, side: Side, price: Decimal, now_ms: int, size: Decimal | None = None) -> None:
        req = OrderRequest(
            self.uid,
            self.symbol,
            side,
            price=price,
            size=self.cfg.size if size is None else size,
            account_type=self.account_type,
            leverage=Decimal(1) if self.futures else None,
        )
        try:
            order = self.exchange.place(req, now_ms)
        except EngineError:
            return  # a level outside the symbol's rules (too small a price) is skipped
        if order.active:
            self.quotes.append(order.id)
