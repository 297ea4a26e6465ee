"""Linear (USDT-margined) futures: order rules, margin, positions and the account overview.

Futures orders go through the same :class:`~kucoin_sim.engine.matching.Market` as spot (the
book and rules exist once); only the money differs, in :class:`FuturesSettlement`:

* Sizes are lots; ``value = price * lots * multiplier`` in the settle currency.
* Placing freezes the order margin ``value / leverage + value * max(fee rates)`` in the user's
  futures account (a market order values itself by walking the book).
* A fill first *closes* any opposite position (realising ``(price - avgEntry) * qty * mult``,
  releasing that part of the position margin and the order margin it no longer needs), then
  *opens* the rest (the order margin for that part becomes position margin). Fees come out of
  the order's hold and are booked as exchange fees; ``realisedPnl`` includes them (negative).
* Margin mode is per user and symbol (ISOLATED default); CROSS uses the user's cross leverage
  for the symbol, ISOLATED the order's ``leverage``.
* No liquidation engine: ``liquidationPrice`` and ``bankruptPrice`` are estimates
  (isolated formula: ``avg * (1 -/+ 1/leverage +/- maintMargin)``).

Balances: ledger ``holds`` = order margins + position margins; ``available`` is what is free.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_UP, ROUND_UP, Decimal
from typing import TYPE_CHECKING

from kucoin_sim.engine.accounts import Balance, Ledger
from kucoin_sim.engine.book import OrderBook
from kucoin_sim.engine.events import Outbox, PositionEvent
from kucoin_sim.engine.rules import check_amount, check_price, fee_rate, is_multiple
from kucoin_sim.engine.types import (
    ONE,
    ZERO,
    AccountType,
    Codes,
    ContractSpec,
    EngineError,
    Fill,
    Liquidity,
    MarginMode,
    Order,
    OrderRequest,
    OrderType,
    Side,
)

if TYPE_CHECKING:
    from kucoin_sim.engine.matching import Market

Q8 = Decimal("0.00000001")


def q8(value: Decimal) -> Decimal:
    """Round an amount up to 8 decimals (holds never fall short)."""
    return value.quantize(Q8, rounding=ROUND_UP)


def futures_error(message: str) -> EngineError:
    """A ``300000`` futures error."""
    return EngineError(Codes.FUTURES, message)


@dataclass(slots=True)
class Position:
    """One user's position in one contract (``qty`` lots, signed: long > 0)."""

    uid: str
    symbol: str
    qty: Decimal = ZERO
    avg_entry: Decimal = ZERO
    margin: Decimal = ZERO
    realised_pnl: Decimal = ZERO
    leverage: Decimal = ONE
    opened_ms: int = 0


@dataclass(frozen=True, slots=True)
class PositionView:
    """A position as ``/api/v1/position`` shows it (money in the settle currency)."""

    symbol: str
    current_qty: Decimal
    current_cost: Decimal
    avg_entry_price: Decimal
    mark_price: Decimal
    mark_value: Decimal
    unrealised_pnl: Decimal
    realised_pnl: Decimal
    pos_margin: Decimal
    maint_margin: Decimal
    liquidation_price: Decimal
    bankrupt_price: Decimal
    leverage: Decimal
    real_leverage: Decimal
    margin_mode: MarginMode
    is_open: bool
    settle_currency: str
    opened_ms: int


@dataclass(frozen=True, slots=True)
class AccountOverview:
    """``/api/v1/account-overview`` for one settle currency."""

    currency: str
    account_equity: Decimal
    unrealised_pnl: Decimal
    margin_balance: Decimal
    position_margin: Decimal
    order_margin: Decimal
    frozen_funds: Decimal
    available_balance: Decimal
    risk_ratio: Decimal


class FuturesDesk:
    """Positions, margin modes and cross leverages of every user."""

    def __init__(
        self, contracts: dict[str, ContractSpec], ledger: Ledger, outbox: Outbox | None = None
    ) -> None:
        self.contracts = contracts
        self.ledger = ledger
        self.outbox = outbox or Outbox()
        self.positions: dict[tuple[str, str], Position] = {}
        self.margin_modes: dict[tuple[str, str], MarginMode] = {}
        self.cross_leverage: dict[tuple[str, str], Decimal] = {}

    def position(self, uid: str, symbol: str) -> Position:
        """The (possibly flat) position, created on first use."""
        key = (uid, symbol)
        pos = self.positions.get(key)
        if pos is None:
            pos = Position(uid, symbol)
            self.positions[key] = pos
        return pos

    def margin_mode(self, uid: str, symbol: str) -> MarginMode:
        """ISOLATED unless changed."""
        return self.margin_modes.get((uid, symbol), MarginMode.ISOLATED)

    def set_margin_mode(self, uid: str, symbol: str, mode: MarginMode, open_orders: int) -> None:
        """Change the mode; refused while a position or orders are open."""
        self._contract(symbol)
        if self.position(uid, symbol).qty or open_orders:
            raise futures_error("Margin mode can't be changed with open positions or orders")
        self.margin_modes[(uid, symbol)] = mode

    def get_cross_leverage(self, uid: str, symbol: str) -> Decimal:
        """The user's cross leverage for ``symbol`` (default 3)."""
        self._contract(symbol)
        return self.cross_leverage.get((uid, symbol), Decimal(3))

    def set_cross_leverage(self, uid: str, symbol: str, leverage: Decimal) -> None:
        """Set the cross leverage (1 .. maxLeverage)."""
        check_amount(leverage, "leverage")
        self.cross_leverage[(uid, symbol)] = self._check_leverage(symbol, leverage)

    def _contract(self, symbol: str) -> ContractSpec:
        spec = self.contracts.get(symbol)
        if spec is None:
            raise EngineError(Codes.NO_SYMBOL, "Contract not exists")
        return spec

    def _check_leverage(self, symbol: str, leverage: Decimal) -> Decimal:
        spec = self._contract(symbol)
        if not ONE <= leverage <= spec.max_leverage:
            raise futures_error(f"Leverage must be between 1 and {spec.max_leverage}")
        return leverage

    # -- orders ------------------------------------------------------------------------------

    def normalize(self, req: OrderRequest, market: Market) -> OrderRequest:
        """Validate a futures order; returns it with ``size`` in lots and a leverage set."""
        spec = self._contract(req.symbol)
        if not spec.enable_trading:
            raise EngineError(Codes.NOT_TRADABLE, "Contract is not tradable")
        if req.type is OrderType.LIMIT:
            check_price(req.price, spec.tick_size)
        if req.stop is not None:
            check_price(req.stop_price, spec.tick_size, "stopPrice")
        pos = self.position(req.uid, req.symbol)
        side, lots, reduce_only = req.side, self._lots(req, spec, market.book), req.reduce_only
        if req.close_order:
            if not pos.qty:
                raise futures_error("No position to close")
            side = Side.SELL if pos.qty > 0 else Side.BUY
            lots, reduce_only = abs(pos.qty), True
        if reduce_only and not _reduces(pos, side):
            raise futures_error("Reduce-only order would increase the position")
        return dataclasses.replace(
            req,
            side=side,
            size=lots,
            qty=None,
            value_qty=None,
            funds=None,
            reduce_only=reduce_only,
            leverage=self._leverage(req),
            account_type=AccountType.FUTURES,
            margin_mode=self.margin_mode(req.uid, req.symbol),
        )

    def _lots(self, req: OrderRequest, spec: ContractSpec, book: OrderBook) -> Decimal:
        if req.close_order:
            return ZERO
        lots = req.size
        if lots is None and req.qty is not None:
            lots = req.qty / spec.multiplier
        if lots is None and req.value_qty is not None:
            price = req.price or _best_price(book, req.side)
            if price is None:
                raise futures_error("valueQty needs a price or a book")
            lots = (req.value_qty / (price * spec.multiplier)).to_integral_value(ROUND_FLOOR)
        if lots is None:
            raise EngineError(Codes.PARAM, "size is required")
        if lots <= 0 or not is_multiple(lots, spec.lot_size):
            raise EngineError(Codes.PARAM, "The order size must be a positive whole number of lots")
        if lots > spec.max_order_qty:
            raise futures_error("Order size exceeds maxOrderQty")
        return lots

    def _leverage(self, req: OrderRequest) -> Decimal:
        if self.margin_mode(req.uid, req.symbol) is MarginMode.CROSS:
            return self.get_cross_leverage(req.uid, req.symbol)
        leverage = req.leverage
        if leverage is None:
            pos = self.positions.get((req.uid, req.symbol))
            leverage = pos.leverage if pos is not None and pos.qty else ONE
        return self._check_leverage(req.symbol, leverage)

    # -- views -------------------------------------------------------------------------------

    def view(self, uid: str, symbol: str, mark: Decimal | None) -> PositionView:
        """The position with mark price and PnL (``mark`` None: the entry price)."""
        spec = self._contract(symbol)
        pos = self.position(uid, symbol)
        mark_price = mark if mark is not None else pos.avg_entry
        sign = ONE if pos.qty >= 0 else -ONE
        size = abs(pos.qty) * spec.multiplier
        unrealised = (mark_price - pos.avg_entry) * size * sign if pos.qty else ZERO
        inv = ONE / pos.leverage
        liq = (
            _tick(pos.avg_entry * (ONE - sign * (inv - spec.maint_margin)), spec)
            if pos.qty
            else ZERO
        )
        bankrupt = _tick(pos.avg_entry * (ONE - sign * inv), spec) if pos.qty else ZERO
        equity = pos.margin + unrealised
        mark_value = mark_price * size * sign
        return PositionView(
            symbol=symbol,
            current_qty=pos.qty,
            current_cost=pos.avg_entry * size * sign,
            avg_entry_price=pos.avg_entry,
            mark_price=mark_price,
            mark_value=mark_value,
            unrealised_pnl=unrealised,
            realised_pnl=pos.realised_pnl,
            pos_margin=pos.margin,
            maint_margin=pos.margin + unrealised,
            liquidation_price=liq,
            bankrupt_price=bankrupt,
            leverage=pos.leverage,
            real_leverage=(abs(mark_value) / equity).quantize(Decimal("0.01"))
            if equity > 0
            else ZERO,
            margin_mode=self.margin_mode(uid, symbol),
            is_open=bool(pos.qty),
            settle_currency=spec.settle,
            opened_ms=pos.opened_ms,
        )

    def overview(
        self, uid: str, currency: str, marks: dict[str, Decimal | None], order_margin: Decimal
    ) -> AccountOverview:
        """Account overview from the ledger, positions and open-order margins."""
        acct = self.ledger.account(uid, AccountType.FUTURES, currency)
        unrealised = position_margin = maint = ZERO
        for (owner, symbol), pos in self.positions.items():
            if owner != uid or not pos.qty or self.contracts[symbol].settle != currency:
                continue
            view = self.view(uid, symbol, marks.get(symbol))
            unrealised += view.unrealised_pnl
            position_margin += pos.margin
            maint += abs(view.mark_value) * self.contracts[symbol].maint_margin
        equity = acct.balance + unrealised
        return AccountOverview(
            currency=currency,
            account_equity=equity,
            unrealised_pnl=unrealised,
            margin_balance=acct.balance,
            position_margin=position_margin,
            order_margin=order_margin,
            frozen_funds=ZERO,
            available_balance=acct.available + min(unrealised, ZERO),
            risk_ratio=(maint / equity).quantize(Decimal("0.0001")) if equity > 0 else ZERO,
        )


def _tick(price: Decimal, spec: ContractSpec) -> Decimal:
    """``price`` rounded to the contract's tick (half up)."""
    return (price / spec.tick_size).to_integral_value(ROUND_HALF_UP) * spec.tick_size


def _reduces(pos: Position, side: Side) -> bool:
    return (pos.qty > 0 and side is Side.SELL) or (pos.qty < 0 and side is Side.BUY)


def _best_price(book: OrderBook, side: Side) -> Decimal | None:
    best = book.side(side.opposite).best()
    return best.price if best is not None else None


class FuturesSettlement:
    """:class:`~kucoin_sim.engine.matching.Settlement` for one linear contract."""

    def __init__(self, spec: ContractSpec, desk: FuturesDesk) -> None:
        self.spec = spec
        self.desk = desk
        self.ledger = desk.ledger
        self.max_fee = max(spec.maker_fee_rate, spec.taker_fee_rate)

    def _acct(self, order: Order) -> Balance:
        return self.ledger.account(order.uid, AccountType.FUTURES, self.spec.settle)

    def _rate(self, order: Order) -> Decimal:
        leverage = order.leverage or ONE
        return (ZERO if order.reduce_only else ONE / leverage) + self.max_fee

    def reserve(self, order: Order, book: OrderBook, now_ms: int) -> None:
        """Freeze the order margin plus the fee (see the module docstring)."""
        if order.price is not None:
            notional = order.price * order.remaining
        elif order.stop_price is not None and not order.stop_triggered:
            notional = order.stop_price * order.remaining
        else:
            notional = self._walk(order, book)
        amount = q8(notional * self.spec.multiplier * self._rate(order))
        acct = self._acct(order)
        self.ledger.hold(acct, amount, order.id, now_ms)
        order.hold = amount
        order.hold_currency = acct.currency

    def _walk(self, order: Order, book: OrderBook) -> Decimal:
        """Sum of price * lots a market order of this size takes from the current book."""
        need, notional = order.remaining, ZERO
        for level in book.side(order.side.opposite):
            take = min(need, level.total())
            notional += level.price * take
            need -= take
            if need <= 0:
                break
        return notional

    def affordable(self, order: Order, price: Decimal, size: Decimal) -> Decimal:
        """Cut a market order's ``size`` to whole lots its hold still pays for.

        Limit orders are never cut: a sell fills at or above its price, where the margin of
        ``value / leverage`` is a little higher than what was frozen at the limit price; the
        position then gets the frozen amount (the difference is not charged), so a limit order
        never rests crossed for want of margin.
        """
        if order.type is OrderType.LIMIT:
            return size
        per_lot = price * self.spec.multiplier * self._rate(order)
        if per_lot * size <= order.hold:
            return size
        return (order.hold / per_lot / self.spec.lot_size).to_integral_value(
            ROUND_FLOOR
        ) * self.spec.lot_size

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
        """Apply one trade to both positions and both holds."""
        return (
            self._side(taker, maker, Liquidity.TAKER, price, size, trade_id, now_ms),
            self._side(maker, taker, Liquidity.MAKER, price, size, trade_id, now_ms),
        )

    def _side(  # noqa: PLR0917 - private, called twice above
        self,
        order: Order,
        counter: Order,
        liquidity: Liquidity,
        price: Decimal,
        size: Decimal,
        trade_id: str,
        now_ms: int,
    ) -> Fill:
        spec = self.spec
        rate = fee_rate(spec.maker_fee_rate, spec.taker_fee_rate, order, liquidity)
        value = price * size * spec.multiplier
        fee = q8(value * rate)
        acct = self._acct(order)
        fee_paid = min(fee, order.hold)
        self.ledger.spend_held(acct, fee_paid, order.id, now_ms)
        order.hold -= fee_paid
        self.ledger.collect_fee(spec.settle, fee_paid)
        pos = self.desk.position(order.uid, spec.symbol)
        signed = size if order.side is Side.BUY else -size
        closing = min(size, abs(pos.qty)) if pos.qty and (pos.qty > 0) != (signed > 0) else ZERO
        if closing:
            self._close(order, pos, acct, price=price, lots=closing, now=now_ms)
        if size - closing:
            self._open(order, pos, price, size - closing, now_ms)
        pos.realised_pnl -= fee_paid
        self.desk.outbox.put(
            PositionEvent(
                pos.uid,
                pos.symbol,
                pos.qty,
                pos.avg_entry,
                pos.margin,
                pos.realised_pnl,
                pos.leverage,
                now_ms,
            )
        )
        order.fee += fee_paid
        order.fee_currency = spec.settle
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
            value,
            fee_paid,
            rate,
            spec.settle,
            order.type,
            AccountType.FUTURES,
            order.stop,
            now_ms,
        )

    def _close(
        self, order: Order, pos: Position, acct: Balance, *, price: Decimal, lots: Decimal, now: int
    ) -> None:
        sign = ONE if pos.qty > 0 else -ONE
        part = min(order.hold, q8(price * lots * self.spec.multiplier / (order.leverage or ONE)))
        if not order.reduce_only:
            self.ledger.release(acct, part, order.id, now)
            order.hold -= part
        margin_part = pos.margin if lots == abs(pos.qty) else q8(pos.margin * lots / abs(pos.qty))
        margin_part = min(margin_part, pos.margin)
        self.ledger.release(acct, margin_part, order.id, now)
        pos.margin -= margin_part
        pnl = ((price - pos.avg_entry) * lots * self.spec.multiplier * sign).quantize(Q8)
        self.ledger.credit(acct, pnl, order.id, now)
        self.ledger.collect_fee(self.spec.settle, -pnl)
        pos.realised_pnl += pnl
        pos.qty -= lots * sign
        if not pos.qty:
            pos.avg_entry = ZERO

    def _open(self, order: Order, pos: Position, price: Decimal, lots: Decimal, now: int) -> None:
        margin = min(order.hold, q8(price * lots * self.spec.multiplier / (order.leverage or ONE)))
        order.hold -= margin
        pos.margin += margin
        held = abs(pos.qty)
        pos.avg_entry = ((pos.avg_entry * held + price * lots) / (held + lots)).quantize(Q8)
        pos.qty += lots if order.side is Side.BUY else -lots
        pos.leverage = order.leverage or ONE
        if not held:
            pos.opened_ms = now

    def trim(self, order: Order, now_ms: int) -> None:
        """Release the hold above what the remaining lots need (after an STP decrease)."""
        if order.price is None:
            return
        need = q8(order.price * order.remaining * self.spec.multiplier * self._rate(order))
        if order.hold > need:
            self.ledger.release(self._acct(order), order.hold - need, order.id, now_ms)
            order.hold = need

    def unreserve(self, order: Order, now_ms: int) -> None:
        """Release what a done order still holds."""
        if order.hold:
            self.ledger.release(self._acct(order), order.hold, order.id, now_ms)
            order.hold = ZERO
