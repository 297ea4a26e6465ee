"""Spot settlement: holds at placement, base/quote movements and fees on each fill.

Fees: KuCoin spot charges the fee in the *quote* currency on both sides (the symbol's
``feeCurrency`` is the quote), so a buyer pays ``funds + fee`` of quote and receives ``size`` of
base; a seller gives ``size`` of base and receives ``funds - fee`` of quote. The fee rate is
the maker rate for the resting order and the taker rate for the arriving one, except that hidden
and iceberg orders pay the taker rate even when they rest (KuCoin's "Handling Fees").

Holds, frozen when the order is accepted (stop orders too, like KuCoin):

==============================  ====================================================
limit buy                       ``price * size * (1 + max(maker, taker fee))`` quote
limit / market sell by size     ``size`` base
market buy by funds             ``funds * (1 + taker fee)`` quote
market buy by size              cost of walking the book for ``size`` (stop: at the
                                stop price) ``* (1 + taker fee)`` quote
market sell by funds            base needed to raise ``funds`` walking the book (stop:
                                ``funds / stopPrice`` rounded up)
==============================  ====================================================

A fill never spends more than the order still holds: the taker's fill is cut to what its hold
pays (so a market buy stops when its money runs out) and what is left is released when the
order is done.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from kucoin_sim.engine.accounts import Balance, Ledger
from kucoin_sim.engine.book import OrderBook
from kucoin_sim.engine.rules import fee_rate, floor_to
from kucoin_sim.engine.types import (
    ONE,
    ZERO,
    Fill,
    Liquidity,
    Order,
    OrderType,
    Side,
    SymbolSpec,
)


class SpotSettlement:
    """:class:`~kucoin_sim.engine.matching.Settlement` for one spot symbol."""

    def __init__(self, spec: SymbolSpec, ledger: Ledger) -> None:
        self.spec = spec
        self.ledger = ledger
        self.max_fee = max(spec.maker_fee_rate, spec.taker_fee_rate)

    def _acct(self, order: Order, currency: str) -> Balance:
        return self.ledger.account(order.uid, order.account_type, currency)

    def hold_currency(self, order: Order) -> str:
        """Quote for buys, base for sells."""
        return self.spec.quote if order.side is Side.BUY else self.spec.base

    def requirement(self, order: Order, book: OrderBook) -> Decimal:
        """What ``order`` must freeze (see the module table)."""
        if order.type is OrderType.LIMIT:
            assert order.price is not None  # noqa: S101 - validated
            if order.side is Side.BUY:
                return order.price * order.remaining * (ONE + self.max_fee)
            return order.remaining
        if order.side is Side.BUY:
            if order.funds is not None:
                return order.funds * (ONE + self.spec.taker_fee_rate)
            return self._buy_cost(order, book) * (ONE + self.spec.taker_fee_rate)
        if order.funds is None:
            return order.remaining
        return self._sell_base(order, book)

    def _buy_cost(self, order: Order, book: OrderBook) -> Decimal:
        if order.stop_price is not None and not order.stop_triggered:
            return order.stop_price * order.remaining
        need, cost = order.remaining, ZERO
        for level in book.asks:
            take = min(need, level.total())
            cost += take * level.price
            need -= take
            if need <= 0:
                break
        return cost

    def _sell_base(self, order: Order, book: OrderBook) -> Decimal:
        assert order.funds is not None  # noqa: S101 - caller checked
        if order.stop_price is not None and not order.stop_triggered:
            base = (order.funds / order.stop_price / self.spec.base_increment).to_integral_value(
                rounding=ROUND_CEILING
            )
            return base * self.spec.base_increment
        funds, base = order.funds, ZERO
        for level in book.bids:
            take = min(level.total(), floor_to(funds / level.price, self.spec.base_increment))
            base += take
            funds -= take * level.price
            if funds <= 0 or take < level.total():
                break
        return base

    def reserve(self, order: Order, book: OrderBook, now_ms: int) -> None:
        """Freeze the requirement (raises the account type's balance error)."""
        amount = self.requirement(order, book)
        acct = self._acct(order, self.hold_currency(order))
        self.ledger.hold(acct, amount, order.id, now_ms)
        order.hold = amount
        order.hold_currency = acct.currency

    def affordable(self, order: Order, price: Decimal, size: Decimal) -> Decimal:
        """Cut ``size`` to what the taker's hold pays at ``price`` (taker fee included)."""
        if order.side is Side.SELL:
            return min(size, order.hold)
        cost = price * size * (ONE + self.spec.taker_fee_rate)
        if cost <= order.hold:
            return size
        return floor_to(
            order.hold / (price * (ONE + self.spec.taker_fee_rate)), self.spec.base_increment
        )

    def settle(
        self,
        taker: Order,
        maker: Order,
        *,
        price: Decimal,
        size: Decimal,
        trade_id: str,
        now_ms: int,
    ) -> tuple[Fill, Fill]:
        """Move base and quote for one trade, charge both fees in quote."""
        taker_fill = self._side(
            taker, maker, Liquidity.TAKER, price=price, size=size, trade_id=trade_id, now_ms=now_ms
        )
        maker_fill = self._side(
            maker, taker, Liquidity.MAKER, price=price, size=size, trade_id=trade_id, now_ms=now_ms
        )
        return taker_fill, maker_fill

    def _side(
        self,
        order: Order,
        counter: Order,
        liquidity: Liquidity,
        *,
        price: Decimal,
        size: Decimal,
        trade_id: str,
        now_ms: int,
    ) -> Fill:
        spec = self.spec
        rate = fee_rate(spec.maker_fee_rate, spec.taker_fee_rate, order, liquidity)
        funds = price * size
        fee = funds * rate
        quote, base = self._acct(order, spec.quote), self._acct(order, spec.base)
        if order.side is Side.BUY:
            self.ledger.spend_held(quote, funds + fee, order.id, now_ms)
            order.hold -= funds + fee
            self.ledger.credit(base, size, order.id, now_ms)
        else:
            self.ledger.spend_held(base, size, order.id, now_ms)
            order.hold -= size
            self.ledger.credit(quote, funds - fee, order.id, now_ms)
        self.ledger.collect_fee(spec.quote, fee)
        order.fee += fee
        order.fee_currency = spec.quote
        return Fill(
            trade_id,
            order.id,
            counter.id,
            order.uid,
            spec.symbol,
            order.side,
            liquidity,
            price,
            size,
            funds,
            fee,
            rate,
            spec.quote,
            order.type,
            order.account_type,
            order.stop,
            now_ms,
        )

    def trim(self, order: Order, now_ms: int) -> None:
        """Release the hold above the need of the remaining size (after an STP decrease)."""
        if order.type is not OrderType.LIMIT:
            return
        assert order.price is not None  # noqa: S101 - limit orders are priced
        need = order.remaining
        if order.side is Side.BUY:
            need = order.price * order.remaining * (ONE + self.max_fee)
        excess = order.hold - need
        if excess > 0:
            self.ledger.release(self._acct(order, order.hold_currency), excess, order.id, now_ms)
            order.hold = need

    def unreserve(self, order: Order, now_ms: int) -> None:
        """Release everything the done order still holds."""
        if order.hold:
            self.ledger.release(
                self._acct(order, order.hold_currency), order.hold, order.id, now_ms
            )
            order.hold = ZERO
