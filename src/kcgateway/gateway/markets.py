"""Margin and futures next to spot: an intent's market, its terms, its endpoint family.

Every market goes through the same :class:`~kcgateway.gateway.orders.OrderRouter` life cycle
(intent committed with its clientOid before the call, unknown outcomes resolved by clientOid,
strays adopted); only the exchange calls differ, and they are chosen here:

- ``spot``: the account's spot family (HF or classic), as :class:`AccountVenue` does;
- ``margin``: the HF margin endpoints (``/api/v3/hf/margin/...``), which KuCoin serves to every
  account (the classic ``/api/v1/margin/order`` family is deprecated and not in the client);
  ``tradeType`` is ``MARGIN_TRADE`` (cross) or ``MARGIN_ISOLATED_TRADE`` (isolated);
- ``futures``: the futures host (``/api/v1/orders``, ``/api/v1/orders/byClientOid``), sizes in
  integer lots.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from kcgateway.errors import ValidationError
from kcgateway.exchange.services.base import Placed
from kcgateway.exchange.services.futures import FuturesOrderRequest
from kcgateway.gateway.venue import AccountVenue, ActiveOrder, ExchangeOrder, spot_order
from kcgateway.kucoin import models as m

if TYPE_CHECKING:
    from kcgateway.store.tables import OrderIntent

SPOT, MARGIN, FUTURES = "spot", "margin", "futures"
MARKETS = (SPOT, MARGIN, FUTURES)
MARGIN_MODES = ("cross", "isolated")
FUTURES_MARGIN_MODES = ("ISOLATED", "CROSS")
FUTURES_TIME_IN_FORCE = ("GTC", "IOC")
_TRADE_TYPES = {"cross": "MARGIN_TRADE", "isolated": "MARGIN_ISOLATED_TRADE"}


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
    """The fields of an order request :func:`check_terms` needs (OrderRequest has them)."""

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


def check_terms(req: _Shape) -> None:
    """Market-specific shape checks after the common ones. Pure; ValidationError names the field."""
    t = req.terms
    if t.market not in MARKETS:
        raise ValidationError("market must be spot, margin or futures", field="market")
    if t.market == SPOT:
        if t != MarketTerms():
            raise ValidationError("a spot order takes no margin or futures terms", field="market")
        return
    if t.market == MARGIN:
        if t.margin_mode not in MARGIN_MODES:
            raise ValidationError("marginMode must be cross or isolated", field="marginMode")
        if t.leverage is not None or t.reduce_only or t.close_order:
            raise ValidationError(
                "leverage, reduceOnly and closeOrder are futures terms", field="market"
            )
        return
    _check_futures(req)


def _check_futures(req: _Shape) -> None:
    t = req.terms
    if req.funds is not None:
        raise ValidationError("a futures order is sized in lots (size), not funds", field="funds")
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


async def place_intent(
    venue: AccountVenue, row: OrderIntent, time_in_force: str | None
) -> m.OrderPlaced:
    """Send the intent once, under its own clientOid, to its market's place endpoint."""
    if row.market == FUTURES:
        return await venue.client.futures.place(_futures_order(row, time_in_force))
    order = spot_order(
        client_oid=row.client_oid, symbol=row.symbol, side=row.side,
        order_type=row.order_type, price=row.price, size=row.size,
        funds=row.funds, time_in_force=time_in_force,
    )  # fmt: skip
    if row.market == MARGIN:
        return await venue.client.margin.place(
            order,
            isolated=row.margin_mode == "isolated",
            auto_borrow=row.auto_borrow,
            auto_repay=row.auto_repay,
        )
    return await venue.place(order)


def _futures_order(row: OrderIntent, time_in_force: str | None) -> FuturesOrderRequest:
    assert row.size is not None  # noqa: S101 - check_terms requires a size in lots
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


async def resolve_intent(venue: AccountVenue, row: OrderIntent) -> ExchangeOrder | None:
    """The intent's order at the exchange, looked up by clientOid; None when not known."""
    if row.market == FUTURES:
        found = await venue.client.futures.resolve(row.client_oid)
        if not isinstance(found, Placed):
            return None
        o = found.order
        return ExchangeOrder(o.id, o.is_active, o.cancel_exist, o.deal_size or Decimal(0))
    if row.market == MARGIN:
        hf = await venue.client.margin.resolve(row.client_oid, row.symbol)
        if not isinstance(hf, Placed):
            return None
        return ExchangeOrder(
            hf.order.id, hf.order.active, hf.order.cancel_exist, hf.order.deal_size
        )
    return await venue.resolve(row.client_oid, row.symbol)


async def cancel_intent(venue: AccountVenue, row: OrderIntent) -> None:
    """Ask the intent's market to cancel it by clientOid (confirm with :func:`resolve_intent`)."""
    if row.market == FUTURES:
        await venue.client.futures.cancel_by_client_oid(row.client_oid, row.symbol)
    elif row.market == MARGIN:
        await venue.client.margin.cancel_by_client_oid(row.client_oid, row.symbol)
    else:
        await venue.cancel(row.client_oid, row.symbol)


async def cancel_symbol(venue: AccountVenue, market: str, symbol: str) -> None:
    """Cancel every open order of the account on ``symbol`` in ``market``."""
    if market == FUTURES:
        await venue.client.futures.cancel_all(symbol)
    elif market == MARGIN:
        for mode in MARGIN_MODES:
            await venue.client.margin.cancel_symbol(symbol, trade_type=trade_type(mode))
    elif await venue.is_hf():
        await venue.client.spot.hf.cancel_symbol(symbol)
    else:
        await venue.client.spot.classic.cancel_all(symbol)


async def active_orders(venue: AccountVenue, market: str, symbols: list[str]) -> list[ActiveOrder]:
    """Open orders of the account in ``market`` (margin lists per symbol, like HF spot)."""
    if market == SPOT:
        return await venue.active(symbols)
    if market == FUTURES:
        found = [o async for o in venue.client.futures.orders(status="active")]
        return [
            ActiveOrder(o.id, o.client_oid, o.symbol, o.side, o.type, o.price or Decimal(0), o.size)
            for o in found
            if o.symbol in symbols or not symbols
        ]
    out: dict[str, ActiveOrder] = {}  # by order id: one order may be listed under both modes
    for symbol in symbols:
        for mode in MARGIN_MODES:
            for o in await venue.client.margin.active_list(symbol, trade_type=trade_type(mode)):
                out[o.id] = ActiveOrder(
                    o.id, o.client_oid, o.symbol, o.side, o.type, o.price, o.size
                )
    return list(out.values())
