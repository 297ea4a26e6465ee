"""What scenario steps and bots trade through: the simulator's own engine, by account.

Orders go straight to the engine (not over REST: no signatures, rate limits or faults), from
the account's trading account (``trade_hf`` for HF users, else ``trade``), with clientOids
``scn-<n>``. Refusals are recorded, not raised: a scenario keeps going when one order fails,
as a bot would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Any

from kucoin_sim.engine import (
    AccountType,
    EngineError,
    Order,
    OrderRequest,
    OrderType,
    Side,
    TimeInForce,
)

if TYPE_CHECKING:
    from kucoin_sim.state import SimState

MAX_REFUSALS = 100


@dataclass
class Desk:
    """Order entry and price look-ups for one scenario run, with its tally."""

    state: SimState
    orders: int = 0
    refused: int = 0
    refusals: list[dict[str, Any]] = field(default_factory=list)
    _n: int = 0

    def account_type(self, uid: str) -> AccountType:
        """The account spot orders of ``uid`` trade from."""
        user = self.state.users.get(uid)
        return AccountType.TRADE_HF if user is not None and user.hf else AccountType.TRADE

    def place(
        self,
        uid: str,
        symbol: str,
        side: Side,
        now_ms: int,
        *,
        price: Decimal | None = None,
        size: Decimal | None = None,
        funds: Decimal | None = None,
        tif: TimeInForce = TimeInForce.GTC,
        post_only: bool = False,
    ) -> Order | None:
        """One limit (``price``) or market order; None (and a recorded refusal) if refused."""
        self._n += 1
        req = OrderRequest(
            uid,
            symbol,
            side,
            OrderType.LIMIT if price is not None else OrderType.MARKET,
            price=price,
            size=size,
            funds=funds,
            client_oid=f"scn-{self._n}",
            tif=tif,
            post_only=post_only,
            account_type=self.account_type(uid),
        )
        try:
            order = self.state.exchange.place(req, now_ms)
        except EngineError as exc:
            self.refuse(now_ms, "order", uid, exc.code, exc.message)
            return None
        self.orders += 1
        return order

    def order(self, uid: str, order_id: str, now_ms: int) -> Order | None:
        """One of ``uid``'s orders, as its bot looks it up (an API request with its key).

        ``now_ms`` is when the bot asked: a replay that judges the bot's key use reads it.
        """
        del now_ms  # the engine answers the same whenever it is asked
        found: Order | None = self.state.exchange.get(uid, order_id)
        return found

    def cancel_all(self, uid: str, symbol: str | None, now_ms: int) -> int:
        """Cancel the account's active orders (of one symbol); how many."""
        return len(self.state.exchange.cancel_all(uid, symbol, None, now_ms))

    def available(self, uid: str, currency: str) -> Decimal:
        """What the account can trade of ``currency``."""
        rows = self.state.exchange.balances(uid, self.account_type(uid), currency)
        return rows[0].available if rows else Decimal(0)

    def mid(self, symbol: str) -> Decimal | None:
        """Mid of the best bid and ask, else the last price."""
        tick = self.state.exchange.ticker(symbol)
        if tick.best_bid is not None and tick.best_ask is not None:
            return (tick.best_bid + tick.best_ask) / 2
        return tick.price

    def to_tick(self, symbol: str, price: Decimal, *, up: bool) -> Decimal:
        """``price`` on the symbol's tick grid, rounded up or down."""
        tick = self.state.exchange.tick_size(symbol)
        ticks = (price / tick).to_integral_value(rounding=ROUND_CEILING if up else ROUND_FLOOR)
        return max(ticks, Decimal(1)) * tick

    def to_size(self, symbol: str, size: Decimal) -> Decimal:
        """``size`` rounded down to the symbol's base increment."""
        spec = self.state.exchange.symbols[symbol]
        return (size / spec.base_increment).to_integral_value(ROUND_DOWN) * spec.base_increment

    def refuse(self, now_ms: int, what: str, uid: str, code: str, message: str) -> None:
        """Record one refusal (the first :data:`MAX_REFUSALS` are kept in full)."""
        self.refused += 1
        if len(self.refusals) < MAX_REFUSALS:
            self.refusals.append(
                {"timeMs": now_ms, "do": what, "uid": uid, "code": code, "msg": message}
            )
