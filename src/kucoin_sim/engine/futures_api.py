"""The futures part of the :class:`~kucoin_sim.engine.exchange.Exchange` facade."""

from __future__ import annotations

from decimal import Decimal

from kucoin_sim.engine.futures import AccountOverview, FuturesDesk, PositionView
from kucoin_sim.engine.market_maker import MarketMaker
from kucoin_sim.engine.matching import ActiveCounter, Market
from kucoin_sim.engine.registry import OrderFilter, OrderRegistry
from kucoin_sim.engine.types import ZERO, AccountType, ContractSpec, MarginMode, exact


class FuturesApi:
    """Positions, margin mode, leverage and the account overview (mixed into Exchange)."""

    contracts: dict[str, ContractSpec]
    futures: FuturesDesk
    makers: dict[str, MarketMaker]
    registry: OrderRegistry
    active: ActiveCounter

    def market(self, symbol: str) -> Market:
        """The market of ``symbol`` (provided by the exchange)."""
        raise NotImplementedError

    def mark_price(self, symbol: str) -> Decimal | None:
        """Mark price: the market maker's mid when there is one, else the last trade price."""
        maker = self.makers.get(symbol)
        if maker is not None:
            return maker.mid_on_tick()
        return self.market(symbol).tape.last_price

    def position(self, uid: str, symbol: str) -> PositionView:
        """One futures position with mark price and PnL."""
        self.market(symbol)
        return self.futures.view(uid, symbol, self.mark_price(symbol))

    def positions(self, uid: str) -> list[PositionView]:
        """Every open futures position of ``uid``."""
        return [
            self.futures.view(uid, symbol, self.mark_price(symbol))
            for (owner, symbol), pos in self.futures.positions.items()
            if owner == uid and pos.qty
        ]

    def account_overview(self, uid: str, currency: str = "USDT") -> AccountOverview:
        """Futures account overview in ``currency``."""
        marks = {symbol: self.mark_price(symbol) for symbol in self.contracts}
        order_margin = sum(
            (
                o.hold
                for o in self.registry.orders(
                    uid, True, OrderFilter(account_type=AccountType.FUTURES)
                )
            ),
            ZERO,
        )
        return self.futures.overview(uid, currency, marks, order_margin)

    @exact
    def set_margin_mode(self, uid: str, symbol: str, mode: MarginMode) -> None:
        """Switch ISOLATED/CROSS (refused with an open position or orders)."""
        open_orders = self.active.per_symbol.get((uid, symbol), 0)
        self.futures.set_margin_mode(uid, symbol, mode, open_orders)

    def get_margin_mode(self, uid: str, symbol: str) -> MarginMode:
        """ISOLATED unless the user switched."""
        self.market(symbol)
        return self.futures.margin_mode(uid, symbol)

    def get_cross_leverage(self, uid: str, symbol: str) -> Decimal:
        """The user's cross leverage for ``symbol``."""
        return self.futures.get_cross_leverage(uid, symbol)

    @exact
    def set_cross_leverage(self, uid: str, symbol: str, leverage: Decimal) -> None:
        """Set the user's cross leverage for ``symbol`` (1 .. maxLeverage, else 300000)."""
        self.futures.set_cross_leverage(uid, symbol, leverage)
