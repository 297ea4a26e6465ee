"""The inputs of the pre-trade check: the order, the market, the account and recent activity.

Every figure the checks read arrives as a :class:`Stamped` value (the value and the time, in
epoch milliseconds, at which it was true) or as ``None`` when the engine does not have it. The
checks never guess a missing figure: a ``None`` or a figure older than its freshness bound
denies the order with ``risk.stale_data`` (see :mod:`kcgateway.risk.freshness`).

Units. Prices are in the symbol's quote currency. Quantities are in the order's own size unit:
base currency for spot and margin, contracts (lots) for futures. Notional amounts (and every
notional limit) are in the quote currency; the engine converts when an account trades several
quote currencies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Generic, TypeVar

T = TypeVar("T")

ZERO = Decimal(0)
ONE = Decimal(1)


class MarketKind(StrEnum):
    """Where an order trades."""

    SPOT = "spot"
    MARGIN = "margin"
    FUTURES = "futures"


class Side(StrEnum):
    """Buy or sell."""

    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    """Limit or market."""

    LIMIT = "limit"
    MARKET = "market"


class TradingState(StrEnum):
    """What a key, account, tenant or the gateway may do, from loosest to strictest.

    ``ACTIVE``: anything the limits allow. ``REDUCING``: only orders that reduce exposure.
    ``HALTED``: only cancels. Cancels always pass, whatever the state.
    """

    ACTIVE = "active"
    REDUCING = "reducing"
    HALTED = "halted"

    @property
    def rank(self) -> int:
        """0 for ACTIVE, 1 for REDUCING, 2 for HALTED: the higher, the stricter."""
        return _RANK[self]


_RANK = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}


class Level(StrEnum):
    """The four levels that hold a trading state and limits, from widest to narrowest."""

    GATEWAY = "gateway"
    TENANT = "tenant"
    ACCOUNT = "account"
    KEY = "key"


@dataclass(frozen=True, slots=True)
class Stamped(Generic[T]):
    """A figure and the time (epoch ms) at which it was true."""

    value: T
    as_of_ms: int


@dataclass(frozen=True, slots=True)
class ProposedOrder:
    """An order a caller asks the gateway to place.

    Limit orders carry ``price`` and ``size``; market orders carry ``size`` or (spot and margin
    only) ``funds``. ``size`` is in lots for futures. ``reduce_only`` is the futures flag that
    the exchange enforces; ``leverage`` is informational for futures and margin.
    """

    tenant_id: str
    account_id: str
    key_id: str
    market: MarketKind
    symbol: str
    side: Side
    order_type: OrderType
    price: Decimal | None = None
    size: Decimal | None = None
    funds: Decimal | None = None
    leverage: Decimal | None = None
    reduce_only: bool = False
    time_in_force: str | None = None


@dataclass(frozen=True, slots=True)
class CancelRequest:
    """A cancel. Cancels always pass: halting must never trap an order on the book."""

    tenant_id: str
    account_id: str
    key_id: str
    symbol: str | None = None
    order_id: str | None = None


@dataclass(frozen=True, slots=True)
class SymbolRules:
    """What the exchange says about a symbol.

    ``base`` is the exposure key of spot and margin orders (the asset bought or sold);
    ``size_increment`` is the base increment (spot, margin) or the lot size (futures).
    ``price_limit_rate`` is KuCoin's ``priceLimitRate`` (a fraction, 0.1 = 10%): when set, the
    price collar is never wider than it. ``multiplier`` is the futures contract multiplier (1 for
    spot); ``inverse`` marks an inverse contract (one lot is worth ``|multiplier|`` quote units).
    """

    symbol: str
    base: str
    quote: str
    tradable: bool
    price_increment: Decimal
    size_increment: Decimal
    price_limit_rate: Decimal | None = None
    multiplier: Decimal = ONE
    inverse: bool = False


Level2 = tuple[tuple[Decimal, Decimal], ...]


@dataclass(frozen=True, slots=True)
class Book:
    """Depth levels ``(price, size)``, best first; sizes in the order's size unit."""

    bids: Level2
    asks: Level2


@dataclass(frozen=True, slots=True)
class MarketView:
    """What the gateway knows about one symbol's market, each figure with its time.

    ``volume_24h`` is in the quote currency; ``volume_rank`` is 1 for the symbol with the most
    24 h quote volume on the exchange. ``baseline_price`` is the price before any current burst
    (for example the median trade price of the hour that ended ten minutes ago): the pump
    detector compares buys of thin symbols against it.
    """

    symbol: str
    rules: Stamped[SymbolRules] | None
    best_bid: Stamped[Decimal] | None
    best_ask: Stamped[Decimal] | None
    last_price: Stamped[Decimal] | None
    book: Stamped[Book] | None
    volume_24h: Stamped[Decimal] | None
    volume_rank: Stamped[int] | None
    baseline_price: Stamped[Decimal] | None
    #: False when the exchange's current symbol list (spot) or contract list (futures) does
    #: not hold the symbol: the order is refused as ``risk.unknown_symbol`` and nothing else
    listed: bool = True


@dataclass(frozen=True, slots=True)
class Position:
    """One exposure of the account, marked to market.

    ``quantity`` is signed (negative is short) in the order's size unit. ``notional`` is its
    absolute value in the quote currency. Keys of :attr:`AccountView.positions`: the contract
    symbol for futures, the asset (base currency) for spot and margin, where the engine reports
    the asset held net of liabilities (zero or absent when nothing is held).
    """

    quantity: Decimal
    notional: Decimal
    market: MarketKind = MarketKind.SPOT


@dataclass(frozen=True, slots=True)
class OpenOrder:
    """An order resting at the exchange; ``quantity`` and ``notional`` are what remains.

    ``exposure_key`` is the key of the position it would change (see :class:`Position`).
    """

    exposure_key: str
    symbol: str
    side: Side
    quantity: Decimal
    notional: Decimal
    reduce_only: bool = False


@dataclass(frozen=True, slots=True)
class AccountView:
    """What the gateway knows about one account, each figure with its time.

    ``balances`` are total quantities per currency (what ``equity`` was marked from);
    ``equity`` is marked to market (see :func:`kcgateway.risk.drawdown.mark_equity`);
    ``peak_equity`` is the highest equity seen since the last operator reset and
    ``day_start_equity`` the equity at 00:00 UTC.
    """

    account_id: str
    balances: Stamped[Mapping[str, Decimal]] | None
    positions: Stamped[Mapping[str, Position]] | None
    open_orders: Stamped[tuple[OpenOrder, ...]] | None
    equity: Stamped[Decimal] | None
    peak_equity: Stamped[Decimal] | None
    day_start_equity: Stamped[Decimal] | None


@dataclass(frozen=True, slots=True)
class RecentOrder:
    """An order the gateway accepted recently (for the duplicate guard and the detector)."""

    tenant_id: str
    account_id: str
    key_id: str
    symbol: str
    side: Side
    order_type: OrderType
    price: Decimal | None
    size: Decimal | None
    funds: Decimal | None
    notional: Decimal
    at_ms: int
    market: MarketKind = MarketKind.SPOT


@dataclass(frozen=True, slots=True)
class RecentActivity:
    """The recent flow of the order's key and account, as of ``as_of_ms``.

    Timestamp tuples are epoch ms in ascending order (the engine appends). ``recent_orders``
    holds the account's accepted orders (all its keys) of at least the longest window in the
    limits, oldest first. ``daily_turnover`` is the quote notional accepted since 00:00 UTC.
    ``key_last_used_ms`` is ``None`` for a key that has never been used; with
    ``key_idle_until_ms`` it is the key's longest idle stretch since its last accepted order
    (:mod:`kcgateway.risk.key_use`): from its last use before the stretch to the use that ended
    it, or to now when ``key_idle_until_ms`` is ``None``. ``key_known_ips`` are the
    source addresses the key traded from before; ``source_ip`` is this request's address.
    ``symbol_buys`` are the recent buys of the order's symbol by EVERY account of the gateway
    (at least ``burst_window_ms`` of them), for the cross-account detector.
    """

    as_of_ms: int
    key_submissions_ms: tuple[int, ...] = ()
    account_submissions_ms: tuple[int, ...] = ()
    daily_order_count: int = 0
    daily_turnover: Decimal = ZERO
    recent_orders: tuple[RecentOrder, ...] = ()
    key_last_used_ms: int | None = None
    key_idle_until_ms: int | None = None
    key_known_ips: frozenset[str] = field(default_factory=frozenset)
    source_ip: str | None = None
    symbol_buys: tuple[RecentOrder, ...] = ()


@dataclass(frozen=True, slots=True)
class TradingStates:
    """The trading state at each of the four levels that cover an order."""

    gateway: TradingState = TradingState.ACTIVE
    tenant: TradingState = TradingState.ACTIVE
    account: TradingState = TradingState.ACTIVE
    key: TradingState = TradingState.ACTIVE

    def strictest(self) -> tuple[TradingState, Level]:
        """The strictest state and the widest level that holds it."""
        active = TradingState.ACTIVE
        if (
            self.gateway is active
            and self.tenant is active
            and self.account is active
            and (self.key is active)
        ):
            return active, Level.GATEWAY
        best = (self.gateway, Level.GATEWAY)
        for state, level in (
            (self.tenant, Level.TENANT),
            (self.account, Level.ACCOUNT),
            (self.key, Level.KEY),
        ):
            if state.rank > best[0].rank:
                best = (state, level)
        return best
