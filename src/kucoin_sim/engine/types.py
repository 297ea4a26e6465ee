"""Value types of the engine: specs, requests, orders, fills and the one engine error.

Money, prices and sizes are :class:`~decimal.Decimal` everywhere. Specs and requests are frozen;
:class:`Order` is the engine's mutable record, and every public engine call hands out a
*snapshot* (a shallow copy) so callers can never change the book by accident.
"""

from __future__ import annotations

import decimal
import enum
import functools
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import ParamSpec, TypeVar

ZERO = Decimal(0)
ONE = Decimal(1)

P = ParamSpec("P")
R = TypeVar("R")

ENGINE_CONTEXT = decimal.Context(
    prec=60,
    rounding=decimal.ROUND_HALF_EVEN,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)
"""Decimal arithmetic of every state-changing engine call: 60 digits, so market-maker
balances of 1e15 with fees of 1e-15 still add up exactly (the default 28 digits do not)."""


def exact(fn: Callable[P, R]) -> Callable[P, R]:
    """Run ``fn`` under :data:`ENGINE_CONTEXT` (the caller's context is left untouched)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with decimal.localcontext(ENGINE_CONTEXT):
            return fn(*args, **kwargs)

    return wrapper


class Side(enum.StrEnum):
    """Order side, spelled as on the wire."""

    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> Side:
        """The other side."""
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(enum.StrEnum):
    """Order type, spelled as on the wire."""

    LIMIT = "limit"
    MARKET = "market"


class TimeInForce(enum.StrEnum):
    """How long an order may rest: GTC forever, GTT until cancel_after, IOC/FOK never."""

    GTC = "GTC"
    GTT = "GTT"
    IOC = "IOC"
    FOK = "FOK"


class Stp(enum.StrEnum):
    """Self-trade prevention, decided by the *taker's* flag.

    CN cancels the newest (the taker), CO the oldest (the resting maker), CB both, DC decreases
    both by the smaller remaining size and cancels whichever reaches zero.
    """

    CN = "CN"
    CO = "CO"
    CB = "CB"
    DC = "DC"


class StopKind(enum.StrEnum):
    """Stop trigger: ``loss`` fires when the last price is <= stop_price, ``entry`` when >=."""

    LOSS = "loss"
    ENTRY = "entry"


class AccountType(enum.StrEnum):
    """Account types of a user, spelled as KuCoin's ``type`` field."""

    MAIN = "main"
    TRADE = "trade"
    TRADE_HF = "trade_hf"
    MARGIN = "margin"
    FUTURES = "futures"


class OrderStatus(enum.StrEnum):
    """Lifecycle: stop orders wait in ``new``; resting orders are ``open``; ``done`` is final."""

    NEW = "new"
    OPEN = "open"
    DONE = "done"


class DoneReason(enum.StrEnum):
    """Why an order is done."""

    FILLED = "filled"
    CANCELED = "canceled"


class Liquidity(enum.StrEnum):
    """Whether a fill's order rested (maker) or arrived (taker)."""

    MAKER = "maker"
    TAKER = "taker"


class MarginMode(enum.StrEnum):
    """Futures margin mode."""

    ISOLATED = "ISOLATED"
    CROSS = "CROSS"


class EngineError(Exception):
    """A request the engine refuses, carrying KuCoin's ``code`` (a string) and a message.

    Codes chosen (PROTOCOL.md section 3):

    * ``400100`` parameter error: missing or malformed field; price, size or funds off their
      increment; size/funds below the minimum or above the maximum (KuCoin's HF API answers
      these with ``400100`` and messages like "Order size increment invalid."); hidden with
      iceberg; a bad visibleSize; GTT without cancelAfter; a duplicate clientOid of an
      *active* order on classic accounts; order not found on classic accounts
      (``order_not_exist_or_not_allow_to_cancel``).
    * ``900001`` symbol does not exist; ``400600`` trading disabled for the symbol.
    * ``200004`` balance insufficient (classic trade/margin/main accounts);
      ``126013`` on HF (``trade_hf``) accounts.
    * ``200003`` too many active orders (2,000 per user, 200 per user and symbol, stop
      orders included).
    * ``126043`` order does not exist and ``126044`` duplicate clientOid on HF accounts.
    * ``300000`` futures order or position error (bad leverage, lots, reduce-only, ...).

    ``600100``/``600101`` (funds/size below minimum on the old endpoints) are kept as named
    constants in :class:`Codes` for the server, but the engine raises ``400100`` for them.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Codes:
    """KuCoin codes the engine raises (see :class:`EngineError`)."""

    PARAM = "400100"
    NO_SYMBOL = "900001"
    NOT_TRADABLE = "400600"
    BALANCE = "200004"
    BALANCE_HF = "126013"
    TOO_MANY = "200003"
    NOT_FOUND_HF = "126043"
    DUPLICATE_HF = "126044"
    FUNDS_MIN = "600100"
    SIZE_MIN = "600101"
    FUTURES = "300000"


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """A spot symbol's trading rules, as served by ``/api/v2/symbols``."""

    symbol: str
    base: str
    quote: str
    base_min_size: Decimal
    base_max_size: Decimal
    base_increment: Decimal
    quote_min_size: Decimal
    quote_max_size: Decimal
    quote_increment: Decimal
    price_increment: Decimal
    min_funds: Decimal = Decimal("0.1")
    maker_fee_rate: Decimal = Decimal("0.001")
    taker_fee_rate: Decimal = Decimal("0.001")
    enable_trading: bool = True
    price_limit_rate: Decimal = Decimal("0.1")


@dataclass(frozen=True, slots=True)
class ContractSpec:
    """A linear (USDT-margined) futures contract; ``lot_size`` lots of ``multiplier`` base."""

    symbol: str
    base: str
    quote: str
    settle: str
    multiplier: Decimal
    lot_size: Decimal
    tick_size: Decimal
    max_leverage: int = 100
    maker_fee_rate: Decimal = Decimal("0.0002")
    taker_fee_rate: Decimal = Decimal("0.0006")
    max_order_qty: Decimal = Decimal(1_000_000)
    initial_margin: Decimal = Decimal("0.01")
    maint_margin: Decimal = Decimal("0.005")
    enable_trading: bool = True


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """One order as a client asked for it (already parsed from JSON by the server).

    Exactly one of ``size``/``funds`` for market orders; ``price`` and ``size`` for limit ones.
    Futures orders give ``size`` in lots (or ``qty`` in base units, or ``value_qty`` in quote)
    and may carry ``leverage``, ``margin_mode``, ``reduce_only``.
    """

    uid: str
    symbol: str
    side: Side
    type: OrderType = OrderType.LIMIT
    price: Decimal | None = None
    size: Decimal | None = None
    funds: Decimal | None = None
    client_oid: str | None = None
    tif: TimeInForce = TimeInForce.GTC
    cancel_after_s: int | None = None
    post_only: bool = False
    hidden: bool = False
    iceberg: bool = False
    visible_size: Decimal | None = None
    stp: Stp | None = None
    stop: StopKind | None = None
    stop_price: Decimal | None = None
    account_type: AccountType = AccountType.TRADE
    remark: str | None = None
    tags: str | None = None
    leverage: Decimal | None = None
    margin_mode: MarginMode | None = None
    reduce_only: bool = False
    close_order: bool = False
    qty: Decimal | None = None
    value_qty: Decimal | None = None


@dataclass
class Order:
    """The engine's record of an order. Public calls return snapshots (see :meth:`snapshot`).

    ``remaining`` is the size still to trade (for market-by-funds orders: ``None`` and
    ``remaining_funds`` is used instead). ``hold`` is what is still frozen for this order, in
    ``hold_currency``.
    """

    id: str
    uid: str
    symbol: str
    side: Side
    type: OrderType
    price: Decimal | None
    size: Decimal | None
    funds: Decimal | None
    client_oid: str | None
    tif: TimeInForce
    cancel_after_s: int | None
    post_only: bool
    hidden: bool
    iceberg: bool
    visible_size: Decimal | None
    stp: Stp | None
    stop: StopKind | None
    stop_price: Decimal | None
    account_type: AccountType
    remark: str | None
    tags: str | None
    created_at_ms: int
    last_updated_ms: int
    seq: int
    remaining: Decimal = ZERO
    remaining_funds: Decimal | None = None
    deal_size: Decimal = ZERO
    deal_funds: Decimal = ZERO
    fee: Decimal = ZERO
    fee_currency: str = ""
    status: OrderStatus = OrderStatus.OPEN
    in_book: bool = False
    cancelled_size: Decimal = ZERO
    cancelled_funds: Decimal = ZERO
    cancel_exist: bool = False
    done_reason: DoneReason | None = None
    stop_triggered: bool = False
    hold: Decimal = ZERO
    hold_currency: str = ""
    shown: Decimal = ZERO
    leverage: Decimal | None = None
    margin_mode: MarginMode | None = None
    reduce_only: bool = False

    @property
    def active(self) -> bool:
        """True while the order may still trade (resting, or a stop waiting for its trigger)."""
        return self.status is not OrderStatus.DONE

    @property
    def is_stop(self) -> bool:
        """True for a stop order (triggered or not)."""
        return self.stop is not None

    @property
    def waiting_stop(self) -> bool:
        """True for a stop order whose trigger has not fired (done or not)."""
        return self.stop is not None and not self.stop_triggered

    def snapshot(self) -> Order:
        """A copy that later matching will not change (every field is immutable)."""
        clone = Order.__new__(Order)
        clone.__dict__.update(self.__dict__)
        return clone


@dataclass(frozen=True, slots=True)
class Fill:
    """One side of one trade: every trade yields a taker fill and a maker fill (same trade_id)."""

    trade_id: str
    order_id: str
    counter_order_id: str
    uid: str
    symbol: str
    side: Side
    liquidity: Liquidity
    price: Decimal
    size: Decimal
    funds: Decimal
    fee: Decimal
    fee_rate: Decimal
    fee_currency: str
    order_type: OrderType
    account_type: AccountType
    stop: StopKind | None
    created_at_ms: int


@dataclass(frozen=True, slots=True)
class Trade:
    """A public trade (the match feed / trade history). ``side`` is the taker's side."""

    trade_id: str
    symbol: str
    side: Side
    price: Decimal
    size: Decimal
    maker_order_id: str
    taker_order_id: str
    sequence: int
    time_ms: int


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    """Aggregated visible book: bids best (highest) first, asks best (lowest) first."""

    symbol: str
    sequence: int
    bids: list[tuple[Decimal, Decimal]]
    asks: list[tuple[Decimal, Decimal]]
    time_ms: int
