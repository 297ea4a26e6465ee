"""Spot orders (classic and HF), stop orders, fills and the place/cancel responses.

All amounts are decimal strings on the wire; ``createdAt`` and ``lastUpdatedAt`` are ms,
``orderTime`` of stop orders is ns.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from kcgateway.kucoin.models._base import Cursor, Model, Paginated, parse_as


class OrderPlaced(Model, frozen=True, kw_only=True):
    """Placing an order (spot HF/classic, margin, futures, stop): ``{orderId, clientOid}``.

    ``{"orderId":"id0001","clientOid":"id0002"}``; the
    classic and stop endpoints return ``{"orderId": ...}`` only.
    """

    order_id: str
    client_oid: str | None = None


class OrderPlacedSync(OrderPlaced, frozen=True, kw_only=True):
    """``POST /api/v1/hf/orders/sync``: the order's state after matching.

    ``{"orderId":"id0003","clientOid":"id0004",
    "orderTime":1729174140586,"originSize":"0.00001","dealSize":"0","remainSize":"0.00001",
    "canceledSize":"0","status":"open","matchTime":1729174140588}``
    """

    order_time: int | None = None
    origin_size: Decimal | None = None
    deal_size: Decimal | None = None
    remain_size: Decimal | None = None
    canceled_size: Decimal | None = None
    status: str = ""
    match_time: int | None = None


class BatchPlaceResult(Model, frozen=True, kw_only=True):
    """One entry of ``POST /api/v1/hf/orders/multi``: placed, or failed with ``failMsg``."""

    order_id: str | None = None
    client_oid: str | None = None
    success: bool = True
    fail_msg: str | None = None


class CancelResult(Model, frozen=True, kw_only=True):
    """Any single-order cancel response; which fields are set depends on the endpoint.

    HF by id ``{"orderId":"id0005"}``; HF by clientOid ``{"clientOid":"x"}``;
    classic by id, futures and stop ``{"cancelledOrderIds":["id0006"]}``;
    classic by clientOid ``{"cancelledOrderId":"...","clientOid":"...",
    "cancelledOcoOrderIds":null}``; HF partial ``{"orderId":"...","cancelSize":"0.00001"}``.
    """

    order_id: str | None = None
    client_oid: str | None = None
    cancelled_order_id: str | None = None
    cancelled_order_ids: list[str] | None = None
    cancel_size: Decimal | None = None

    @property
    def order_ids(self) -> tuple[str, ...]:
        """Every order id this response says was cancelled."""
        ids = list(self.cancelled_order_ids or ())
        ids.extend(i for i in (self.order_id, self.cancelled_order_id) if i)
        return tuple(ids)


class FailedSymbol(Model, frozen=True, kw_only=True):
    """A symbol whose orders could not be cancelled: ``{"symbol":"BTC-USDT","error":"..."}``."""

    symbol: str
    error: str = ""


class CancelAllResult(Model, frozen=True, kw_only=True):
    """``DELETE /api/v1/hf/orders/cancelAll``.

    ``{"succeedSymbols":["BTC-USDT","ETH-USDT"],"failedSymbols":[]}``
    """

    succeed_symbols: list[str]
    failed_symbols: list[FailedSymbol] = msgspec.field(default_factory=list)


class _OrderCommon(Model, frozen=True, kw_only=True):
    id: str
    client_oid: str | None = None
    symbol: str
    op_type: str = ""
    type: str
    side: str
    price: Decimal
    size: Decimal
    funds: Decimal | None = None
    deal_size: Decimal
    deal_funds: Decimal | None = None
    fee: Decimal | None = None
    fee_currency: str | None = None
    stp: str | None = None
    time_in_force: str | None = None
    post_only: bool = False
    hidden: bool = False
    iceberg: bool = False
    visible_size: Decimal | None = None
    cancel_after: int | None = None
    channel: str | None = None
    remark: str | None = None
    tags: str | None = None
    cancel_exist: bool = False
    trade_type: str | None = None
    created_at: int


class HfOrder(_OrderCommon, frozen=True, kw_only=True):
    """An HF order (``GET /api/v1/hf/orders/{orderId}``, active and done lists).

    ``{"id":"id0007","clientOid":"id0008",
    "symbol":"BTC-USDT","opType":"DEAL","type":"limit","side":"buy","price":"50000",
    "size":"0.00001","funds":"0.5","dealSize":"0","dealFunds":"0","fee":"0","feeCurrency":"USDT",
    "stp":null,"timeInForce":"GTC","postOnly":false,"hidden":false,"iceberg":false,
    "visibleSize":"0","cancelAfter":0,"channel":"API","remark":"order remarks","tags":"",
    "cancelExist":false,"tradeType":"TRADE","inOrderBook":true,"cancelledSize":"0",
    "cancelledFunds":"0","remainSize":"0.00001","remainFunds":"0.5","tax":"0","active":true,
    "createdAt":1729235902748,"lastUpdatedAt":1729235909862}``
    """

    remain_size: Decimal | None = None
    remain_funds: Decimal | None = None
    cancelled_size: Decimal | None = None
    cancelled_funds: Decimal | None = None
    in_order_book: bool = False
    active: bool
    tax: Decimal | None = None
    last_updated_at: int | None = None


class ClassicOrder(_OrderCommon, frozen=True, kw_only=True):
    """A classic order (``GET /api/v1/orders/{orderId}``, ``GET /api/v1/orders`` items).

    ``{"id":"id0009","symbol":"BTC-USDT","opType":"DEAL","type":"limit",
    "side":"buy","price":"30000","size":"0.0001","funds":"0","dealFunds":"0","dealSize":"0",
    "fee":"0","feeCurrency":"USDT","stp":"","stop":"","stopTriggered":false,"stopPrice":"0",
    "timeInForce":"GTC","postOnly":false,"hidden":false,"iceberg":false,"visibleSize":"0",
    "cancelAfter":0,"channel":"API","clientOid":"id0010",
    "remark":null,"tags":"partner:ccxt","isActive":true,"cancelExist":false,
    "createdAt":1732941791518,"tradeType":"TRADE"}``
    """

    stop: str | None = None
    stop_triggered: bool = False
    stop_price: Decimal | None = None
    is_active: bool


class StopOrder(Model, frozen=True, kw_only=True):
    """A spot stop order (``GET /api/v1/stop-order`` items and by id).

    ``{"id":"vs8h0001","symbol":"KCS-USDT","userId":"id0011",
    "status":"NEW","type":"limit","side":"buy","price":"0.01000000000000000000",
    "size":"0.01000000000000000000","funds":null,"stp":null,"timeInForce":"GTC",
    "cancelAfter":-1,"postOnly":false,"hidden":false,"iceberg":false,"visibleSize":null,
    "channel":"API","clientOid":"id0012","remark":null,"tags":null,
    "orderTime":1628756183355245000,"domainId":"kucoin","tradeSource":"USER",
    "tradeType":"TRADE","feeCurrency":"USDT","takerFeeRate":"0.00200000000000000000",
    "makerFeeRate":"0.00200000000000000000","createdAt":1628756183355,"stop":"loss",
    "stopTriggerTime":null,"stopPrice":"10.00000000000000000000"}``
    """

    id: str
    symbol: str
    user_id: str | None = None
    status: str
    type: str
    side: str
    price: Decimal | None = None
    size: Decimal | None = None
    funds: Decimal | None = None
    stp: str | None = None
    time_in_force: str | None = None
    cancel_after: int | None = None
    post_only: bool = False
    hidden: bool = False
    iceberg: bool = False
    visible_size: Decimal | None = None
    channel: str | None = None
    client_oid: str | None = None
    remark: str | None = None
    tags: str | None = None
    order_time: int | None = None
    trade_source: str | None = None
    trade_type: str | None = None
    fee_currency: str | None = None
    taker_fee_rate: Decimal | None = None
    maker_fee_rate: Decimal | None = None
    created_at: int
    stop: str | None = None
    stop_trigger_time: int | None = None
    stop_price: Decimal


class Fill(Model, frozen=True, kw_only=True):
    """A spot fill: classic ``GET /api/v1/fills`` items, or HF ``GET /api/v1/hf/fills``.

    ``{"id":19814995255305,"orderId":"id0013","counterOrderId":
    "id0014","tradeId":11029373945659392,"symbol":"BTC-USDT","side":"buy",
    "liquidity":"taker","type":"limit","forceTaker":false,"price":"67717.6","size":"0.00001",
    "funds":"0.677176","fee":"0.000677176","feeRate":"0.001","feeCurrency":"USDT","stop":"",
    "tradeType":"TRADE","taxRate":"0","tax":"0","createdAt":1729577515473}``
    (HF has the int ``id``; classic ``tradeId`` is a string.)
    """

    id: int | None = None
    symbol: str
    trade_id: str | int
    order_id: str
    counter_order_id: str | None = None
    side: str
    liquidity: str
    force_taker: bool = False
    price: Decimal
    size: Decimal
    funds: Decimal
    fee: Decimal
    fee_rate: Decimal | None = None
    fee_currency: str
    stop: str | None = None
    trade_type: str | None = None
    type: str | None = None
    tax_rate: Decimal | None = None
    tax: Decimal | None = None
    created_at: int


def parse_order_placed(data: object) -> OrderPlaced:
    """Any place-order response (spot, margin, futures, stop)."""
    return parse_as(OrderPlaced, data)


def parse_order_placed_sync(data: object) -> OrderPlacedSync:
    """``POST /api/v1/hf/orders/sync``."""
    return parse_as(OrderPlacedSync, data)


def parse_batch_placed(data: object) -> list[BatchPlaceResult]:
    """``POST /api/v1/hf/orders/multi``."""
    return parse_as(list[BatchPlaceResult], data)


def parse_cancel(data: object) -> CancelResult:
    """Any single-order cancel response (see :class:`CancelResult`)."""
    return parse_as(CancelResult, data)


def parse_cancel_all(data: object) -> CancelAllResult:
    """``DELETE /api/v1/hf/orders/cancelAll``."""
    return parse_as(CancelAllResult, data)


def parse_cancel_symbol(data: object) -> str:
    """``DELETE /api/v1/hf/orders?symbol=``: the string ``"success"``."""
    return parse_as(str, data)


def parse_hf_order(data: object) -> HfOrder:
    """``GET /api/v1/hf/orders/{orderId}`` or by clientOid."""
    return parse_as(HfOrder, data)


def parse_hf_orders(data: object) -> list[HfOrder]:
    """``GET /api/v1/hf/orders/active``: a plain list."""
    return parse_as(list[HfOrder], data)


def parse_hf_orders_page(data: object) -> Paginated[HfOrder]:
    """``GET /api/v1/hf/orders/active/page``."""
    return parse_as(Paginated[HfOrder], data)


def parse_hf_done_orders(data: object) -> Cursor[HfOrder]:
    """``GET /api/v1/hf/orders/done``: ``{lastId, items}``."""
    return parse_as(Cursor[HfOrder], data)


def parse_classic_order(data: object) -> ClassicOrder:
    """``GET /api/v1/orders/{orderId}`` or ``/api/v1/order/client-order/{clientOid}``."""
    return parse_as(ClassicOrder, data)


def parse_classic_orders(data: object) -> Paginated[ClassicOrder]:
    """``GET /api/v1/orders``."""
    return parse_as(Paginated[ClassicOrder], data)


def parse_stop_order(data: object) -> StopOrder:
    """``GET /api/v1/stop-order/{orderId}``."""
    return parse_as(StopOrder, data)


def parse_stop_orders(data: object) -> Paginated[StopOrder]:
    """``GET /api/v1/stop-order``."""
    return parse_as(Paginated[StopOrder], data)


def parse_classic_fills(data: object) -> Paginated[Fill]:
    """``GET /api/v1/fills``."""
    return parse_as(Paginated[Fill], data)


def parse_hf_fills(data: object) -> Cursor[Fill]:
    """``GET /api/v1/hf/fills``: ``{items, lastId}``."""
    return parse_as(Cursor[Fill], data)
