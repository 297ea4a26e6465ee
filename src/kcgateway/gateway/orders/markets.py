"""One object per market: its checks, its sizing, and its exchange calls.

Every market goes through the same :class:`~kcgateway.gateway.orders.router.OrderRouter` life
cycle (intent committed with its clientOid before the call, unknown outcomes resolved by
clientOid, strays adopted); only what differs per market is here, behind :class:`Market`:

- ``spot``: the account's spot family (HF or classic), as :class:`AccountVenue` does;
- ``margin``: the HF margin endpoints (``/api/v3/hf/margin/...``), which KuCoin serves to every
  account (the classic ``/api/v1/margin/order`` family is deprecated and not in the client);
  ``tradeType`` is ``MARGIN_TRADE`` (cross) or ``MARGIN_ISOLATED_TRADE`` (isolated);
- ``futures``: the futures host (``/api/v1/orders``, ``/api/v1/orders/byClientOid``), sizes in
  integer lots; contracts are cached (:class:`ContractCache`), not read per order.

The router picks the market once (:func:`market_of`) and asks it everything; a market never
calls back into the router.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from kcgateway.errors import NotSizable, ValidationError
from kcgateway.exchange.services.base import Placed
from kcgateway.exchange.services.futures import FuturesOrderRequest
from kcgateway.exchange.services.orders import SpotOrder
from kcgateway.gateway.venue import AccountVenue, ActiveOrder, ExchangeOrder, spot_order
from kcgateway.kucoin import models as m

if TYPE_CHECKING:
    from kcgateway.exchange.rest import KuCoinClient
    from kcgateway.store.tables import OrderIntent

SPOT, MARGIN, FUTURES = "spot", "margin", "futures"
MARKETS = (SPOT, MARGIN, FUTURES)
MARGIN_MODES = ("cross", "isolated")
FUTURES_MARGIN_MODES = ("ISOLATED", "CROSS")
FUTURES_TIME_IN_FORCE = ("GTC", "IOC")
_TRADE_TYPES = {"cross": "MARGIN_TRADE", "isolated": "MARGIN_ISOLATED_TRADE"}
#: how long a futures contract's terms (multiplier, inverse) are reused before a re-read
CONTRACT_TTL_S = 300.0


@dataclass(frozen=True, slots=True)
class MarketTerms:
    """What an order needs besides symbol, side, type, price and size, per market.

    margin: ``margin_mode`` cross | isolated, ``auto_borrow``, ``auto_repay``;
    futures: ``leverage``, ``margin_mode`` ISOLATED | CROSS (None: the exchange default),
    ``reduce_only``, ``close_order`` (and the order's ``size`` is a whole number of lots).
    """

    market: str = SPOT
    margin_mode: str | None = None
    leverage: Decimal | None = None
    reduce_only: bool = False
    close_order: bool = False
    auto_borrow: bool = False
    auto_repay: bool = False


SPOT_TERMS = MarketTerms()


class _Shape(Protocol):
    """The fields of an order request a market needs (OrderRequest has them)."""

    @property
    def symbol(self) -> str: ...
    @property
    def side(self) -> str: ...
    @property
    def order_type(self) -> str: ...
    @property
    def size(self) -> Decimal | None: ...
    @property
    def funds(self) -> Decimal | None: ...
    @property
    def time_in_force(self) -> str | None: ...
    @property
    def price(self) -> Decimal | None: ...
    @property
    def terms(self) -> MarketTerms: ...


class Market(Protocol):
    """What the order path asks a market: checks, sizing, placement, resolution, cancels."""

    name: str

    def check(self, req: _Shape) -> None:
        """Market-specific shape checks after the common ones. Pure; ValidationError."""
        ...

    async def notional(self, req: _Shape, quotes: KuCoinClient | None) -> Decimal:
        """The order's value in the quote currency; :class:`NotSizable` when unknowable."""
        ...

    async def place(
        self, venue: AccountVenue, row: OrderIntent, time_in_force: str | None
    ) -> m.OrderPlaced:
        """Send the intent once, under its own clientOid."""
        ...

    async def resolve(self, venue: AccountVenue, row: OrderIntent) -> ExchangeOrder | None:
        """The intent's order at the exchange, by clientOid; None when it is not known."""
        ...

    async def cancel(self, venue: AccountVenue, row: OrderIntent) -> None:
        """Ask for a cancel by clientOid (confirm with :meth:`resolve`)."""
        ...

    async def cancel_symbol(self, venue: AccountVenue, symbol: str) -> None:
        """Cancel every open order of the account on ``symbol``."""
        ...

    async def active(self, venue: AccountVenue, symbols: list[str]) -> list[ActiveOrder]:
        """The account's open orders on ``symbols`` (all when empty, where the API allows)."""
        ...


def _known_notional(req: _Shape) -> Decimal | None:
    """Quote amount of a spot or margin order when no price feed is needed. Pure."""
    if req.funds is not None:
        return req.funds
    if req.price is not None and req.size is not None:
        return req.price * req.size
    return None


def _priced(req: _Shape, price: Decimal | None, where: str) -> Decimal:
    if price is None or not price.is_finite() or price <= 0:
        raise NotSizable(req.symbol, reason=f"no {where} price to value the order by")
    assert req.size is not None  # noqa: S101 - a market order without funds has a size
    return req.size * price


async def _spot_notional(req: _Shape, quotes: KuCoinClient | None) -> Decimal:
    """A spot or margin order's value in the quote currency.

    Limit and by-funds orders as they are; a market order by size at the best opposite quote
    (buy at the ask, sell at the bid; the last price when that side of the book is empty).
    """
    known = _known_notional(req)
    if known is not None:
        return known
    if quotes is None:
        raise NotSizable(req.symbol, reason="no market data source to price it")
    ticker = await quotes.market.ticker(req.symbol)
    best = ticker.best_ask if req.side == "buy" else ticker.best_bid
    return _priced(req, best or ticker.price, "ticker")


class Spot:
    """Spot orders through the account's spot family (HF or classic)."""

    name = SPOT

    def check(self, req: _Shape) -> None:  # noqa: D102 - see Market
        if req.terms != SPOT_TERMS:
            raise ValidationError("a spot order takes no margin or futures terms", field="market")

    async def notional(self, req: _Shape, quotes: KuCoinClient | None) -> Decimal:  # noqa: D102
        return await _spot_notional(req, quotes)

    async def place(  # noqa: D102
        self, venue: AccountVenue, row: OrderIntent, time_in_force: str | None
    ) -> m.OrderPlaced:
        return await venue.place(_spot_order(row, time_in_force))

    async def resolve(self, venue: AccountVenue, row: OrderIntent) -> ExchangeOrder | None:  # noqa: D102
        return await venue.resolve(row.client_oid, row.symbol)

    async def cancel(self, venue: AccountVenue, row: OrderIntent) -> None:  # noqa: D102
        await venue.cancel(row.client_oid, row.symbol)

    async def cancel_symbol(self, venue: AccountVenue, symbol: str) -> None:  # noqa: D102
        if await venue.is_hf():
            await venue.client.spot.hf.cancel_symbol(symbol)
        else:
            await venue.client.spot.classic.cancel_all(symbol)

    async def active(self, venue: AccountVenue, symbols: list[str]) -> list[ActiveOrder]:  # noqa: D102
        return await venue.active(symbols)


class Margin:
    """Margin orders through the HF margin endpoints (cross or isolated)."""

    name = MARGIN

    def check(self, req: _Shape) -> None:  # noqa: D102 - see Market
        t = req.terms
        if t.margin_mode not in MARGIN_MODES:
            raise ValidationError("marginMode must be cross or isolated", field="marginMode")
        if t.leverage is not None or t.reduce_only or t.close_order:
            raise ValidationError(
                "leverage, reduceOnly and closeOrder are futures terms", field="market"
            )

    async def notional(self, req: _Shape, quotes: KuCoinClient | None) -> Decimal:  # noqa: D102
        return await _spot_notional(req, quotes)

    async def place(  # noqa: D102
        self, venue: AccountVenue, row: OrderIntent, time_in_force: str | None
    ) -> m.OrderPlaced:
        return await venue.client.margin.place(
            _spot_order(row, time_in_force),
            isolated=row.margin_mode == "isolated",
            auto_borrow=row.auto_borrow,
            auto_repay=row.auto_repay,
        )

    async def resolve(self, venue: AccountVenue, row: OrderIntent) -> ExchangeOrder | None:  # noqa: D102
        hf = await venue.client.margin.resolve(row.client_oid, row.symbol)
        if not isinstance(hf, Placed):
            return None
        return ExchangeOrder(
            hf.order.id, hf.order.active, hf.order.cancel_exist, hf.order.deal_size
        )

    async def cancel(self, venue: AccountVenue, row: OrderIntent) -> None:  # noqa: D102
        await venue.client.margin.cancel_by_client_oid(row.client_oid, row.symbol)

    async def cancel_symbol(self, venue: AccountVenue, symbol: str) -> None:  # noqa: D102
        for mode in MARGIN_MODES:
            await venue.client.margin.cancel_symbol(symbol, trade_type=trade_type(mode))

    async def active(self, venue: AccountVenue, symbols: list[str]) -> list[ActiveOrder]:  # noqa: D102
        out: dict[str, ActiveOrder] = {}  # by order id: one order may be listed under both modes
        for symbol in symbols:
            for mode in MARGIN_MODES:
                for o in await venue.client.margin.active_list(symbol, trade_type=trade_type(mode)):
                    out[o.id] = ActiveOrder(
                        o.id, o.client_oid, o.symbol, o.side, o.type, o.price, o.size
                    )
        return list(out.values())


class ContractCache:
    """Futures contracts by symbol, each re-read after ``ttl_s`` (the terms rarely change)."""

    def __init__(
        self, ttl_s: float = CONTRACT_TTL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._contracts: dict[str, tuple[float, m.FuturesContract]] = {}
        #: how many contract reads reached the exchange (for tests and curiosity)
        self.reads = 0

    async def get(self, symbol: str, quotes: KuCoinClient) -> m.FuturesContract:
        """The contract of ``symbol``, from the cache while it is fresh."""
        now = self._clock()
        cached = self._contracts.get(symbol)
        if cached is not None and now - cached[0] < self._ttl_s:
            return cached[1]
        contract = await quotes.futures.contract(symbol)
        self.reads += 1
        self._contracts[symbol] = (now, contract)
        return contract


class Futures:
    """Futures orders on the futures host, sized in lots of a contract."""

    name = FUTURES

    def __init__(self, contracts: ContractCache | None = None) -> None:
        self.contracts = contracts or ContractCache()

    def check(self, req: _Shape) -> None:  # noqa: D102 - see Market
        t = req.terms
        if req.funds is not None:
            raise ValidationError(
                "a futures order is sized in lots (size), not funds", field="funds"
            )
        if req.size is None or req.size != req.size.to_integral_value():
            raise ValidationError("futures size is a whole number of lots", field="size")
        if t.margin_mode is not None and t.margin_mode not in FUTURES_MARGIN_MODES:
            raise ValidationError("marginMode must be ISOLATED or CROSS", field="marginMode")
        if t.leverage is not None and (not t.leverage.is_finite() or t.leverage <= 0):
            raise ValidationError("leverage must be a positive number", field="leverage")
        if t.auto_borrow or t.auto_repay:
            raise ValidationError("autoBorrow and autoRepay are margin terms", field="market")
        if req.time_in_force is not None and req.time_in_force not in FUTURES_TIME_IN_FORCE:
            raise ValidationError("futures timeInForce is GTC or IOC", field="timeInForce")

    async def notional(self, req: _Shape, quotes: KuCoinClient | None) -> Decimal:  # noqa: D102
        if quotes is None:
            raise NotSizable(req.symbol, reason="no market data source for its contract")
        contract = await self.contracts.get(req.symbol, quotes)
        known = futures_notional(req, contract)
        if known is not None:
            return known
        # a linear market order: lots x multiplier at the mark price (the last trade if none)
        price = contract.mark_price or contract.last_trade_price
        if price is None:
            price = (await quotes.futures.ticker(req.symbol)).price
        return _priced(req, price, "mark") * contract.multiplier

    async def place(  # noqa: D102
        self, venue: AccountVenue, row: OrderIntent, time_in_force: str | None
    ) -> m.OrderPlaced:
        return await venue.client.futures.place(_futures_order(row, time_in_force))

    async def resolve(self, venue: AccountVenue, row: OrderIntent) -> ExchangeOrder | None:  # noqa: D102
        found = await venue.client.futures.resolve(row.client_oid)
        if not isinstance(found, Placed):
            return None
        o = found.order
        return ExchangeOrder(o.id, o.is_active, o.cancel_exist, o.deal_size or Decimal(0))

    async def cancel(self, venue: AccountVenue, row: OrderIntent) -> None:  # noqa: D102
        await venue.client.futures.cancel_by_client_oid(row.client_oid, row.symbol)

    async def cancel_symbol(self, venue: AccountVenue, symbol: str) -> None:  # noqa: D102
        await venue.client.futures.cancel_all(symbol)

    async def active(self, venue: AccountVenue, symbols: list[str]) -> list[ActiveOrder]:  # noqa: D102
        found = [o async for o in venue.client.futures.orders(status="active")]
        return [
            ActiveOrder(o.id, o.client_oid, o.symbol, o.side, o.type, o.price or Decimal(0), o.size)
            for o in found
            if o.symbol in symbols or not symbols
        ]


class Markets:
    """The three market objects of one router (the futures one keeps its contract cache)."""

    def __init__(self, futures: Futures | None = None) -> None:
        self._by_name: dict[str, Market] = {
            SPOT: Spot(),
            MARGIN: Margin(),
            FUTURES: futures or Futures(),
        }

    def of(self, name: str) -> Market:
        """The market called ``name``; ValidationError for any other name."""
        market = self._by_name.get(name)
        if market is None:
            raise ValidationError("market must be spot, margin or futures", field="market")
        return market


#: the stateless markets for callers without a router (the contract cache is per router)
DEFAULT = Markets()


def check_terms(req: _Shape) -> None:
    """Market-specific shape checks after the common ones. Pure; ValidationError names the field."""
    DEFAULT.of(req.terms.market).check(req)


def futures_notional(req: _Shape, contract: m.FuturesContract) -> Decimal | None:
    """A futures order's value in the quote currency, from its contract. Pure.

    Linear contracts: price x lots x multiplier (None for a market order: no price yet);
    inverse contracts (negative multiplier, one lot = that many quote units): lots x |multiplier|.
    """
    if req.size is None:
        return None
    if contract.is_inverse:
        return req.size * abs(contract.multiplier)
    if req.price is None:
        return None
    return req.price * req.size * contract.multiplier


def terms_of(row: OrderIntent) -> MarketTerms:
    """The stored terms of an intent."""
    return MarketTerms(
        row.market,
        row.margin_mode,
        row.leverage,
        row.reduce_only,
        row.close_order,
        row.auto_borrow,
        row.auto_repay,
    )


def trade_type(margin_mode: str | None) -> str:
    """KuCoin's ``tradeType`` for a margin mode (cross when unknown, e.g. an adopted order)."""
    return _TRADE_TYPES.get(margin_mode or "cross", "MARGIN_TRADE")


def _spot_order(row: OrderIntent, time_in_force: str | None) -> SpotOrder:
    return spot_order(
        client_oid=row.client_oid, symbol=row.symbol, side=row.side,
        order_type=row.order_type, price=row.price, size=row.size,
        funds=row.funds, time_in_force=time_in_force,
    )  # fmt: skip


def _futures_order(row: OrderIntent, time_in_force: str | None) -> FuturesOrderRequest:
    assert row.size is not None  # noqa: S101 - Futures.check requires a size in lots
    return FuturesOrderRequest(
        symbol=row.symbol,
        side=row.side,
        size=int(row.size),
        order_type=row.order_type,
        price=row.price,
        leverage=row.leverage,
        margin_mode=row.margin_mode,
        time_in_force=time_in_force,
        reduce_only=row.reduce_only or None,
        close_order=row.close_order or None,
        client_oid=row.client_oid,
    )
