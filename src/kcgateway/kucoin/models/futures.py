"""Futures orders, fills, positions, margin settings and the account overview.

Futures mixes JSON numbers (``size`` in lots, prices in some endpoints) and decimal strings
(``price``, ``value``); every money field decodes either form into an exact Decimal.
Timestamps: ``createdAt`` ms, ``orderTime``/``tradeTime``/``ts`` ns.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from kcgateway.kucoin.models._base import Model, Paginated, parse_as


class FuturesOrder(Model, frozen=True, kw_only=True):
    """A futures order (``GET /api/v1/orders/{orderId}``, list items).

    ``{"id":"236655147005071361","symbol":"XBTUSDTM","type":"limit","side":"buy",
    "price":"0.1","size":1,"value":"0.0001","dealValue":"0","dealSize":0,"stp":"","stop":"",
    "stopPriceType":"","stopTriggered":false,"stopPrice":null,"timeInForce":"GTC",
    "postOnly":false,"hidden":false,"iceberg":false,"leverage":"3","forceHold":false,
    "closeOrder":false,"visibleSize":0,"clientOid":"id0001","remark":null,
    "tags":"","isActive":true,"cancelExist":false,"createdAt":1729236185949,
    "updatedAt":1729236185949,"endAt":null,"orderTime":1729236185885647952,
    "settleCurrency":"USDT","marginMode":"ISOLATED","avgDealPrice":"0","filledSize":0,
    "filledValue":"0","status":"open","reduceOnly":false}``
    """

    id: str
    symbol: str
    type: str
    side: str
    price: Decimal | None = None
    size: Decimal
    value: Decimal | None = None
    deal_value: Decimal | None = None
    deal_size: Decimal | None = None
    stp: str | None = None
    stop: str | None = None
    stop_price_type: str | None = None
    stop_triggered: bool = False
    stop_price: Decimal | None = None
    time_in_force: str | None = None
    post_only: bool = False
    hidden: bool = False
    iceberg: bool = False
    leverage: Decimal | None = None
    force_hold: bool = False
    close_order: bool = False
    visible_size: Decimal | None = None
    client_oid: str | None = None
    remark: str | None = None
    tags: str | None = None
    is_active: bool
    cancel_exist: bool = False
    created_at: int
    updated_at: int | None = None
    end_at: int | None = None
    order_time: int | None = None
    settle_currency: str | None = None
    margin_mode: str | None = None
    avg_deal_price: Decimal | None = None
    filled_size: Decimal | None = None
    filled_value: Decimal | None = None
    status: str
    reduce_only: bool = False


class FuturesFill(Model, frozen=True, kw_only=True):
    """A futures fill (``GET /api/v1/fills`` items).

    ``{"symbol":"XBTUSDTM","tradeId":"1784277229880","orderId":"236317213710184449",
    "side":"buy","liquidity":"taker","forceTaker":false,"price":"67430.9","size":1,
    "value":"67.4309","openFeePay":"0.04045854","closeFeePay":"0","stop":"","feeRate":"0.00060",
    "fixFee":"0","feeCurrency":"USDT","marginMode":"ISOLATED","settleCurrency":"USDT",
    "fee":"0.04045854","orderType":"market","displayType":"market","tradeType":"trade",
    "subTradeType":null,"tradeTime":1729155587944000000,"createdAt":1729155587945}``
    """

    symbol: str
    trade_id: str
    order_id: str
    side: str
    liquidity: str
    force_taker: bool = False
    price: Decimal
    size: Decimal
    value: Decimal | None = None
    open_fee_pay: Decimal | None = None
    close_fee_pay: Decimal | None = None
    stop: str | None = None
    fee_rate: Decimal | None = None
    fix_fee: Decimal | None = None
    fee_currency: str | None = None
    margin_mode: str | None = None
    settle_currency: str | None = None
    fee: Decimal
    order_type: str | None = None
    trade_type: str | None = None
    trade_time: int | None = None
    created_at: int


class Position(Model, frozen=True, kw_only=True):
    """A futures position (``GET /api/v1/position``, ``/api/v1/positions`` items).

    ``{"id":"500000000000988255","symbol":"XBTUSDTM","crossMode":false,"currentQty":1,
    "currentCost":67.4309,"avgEntryPrice":67430.9,"markPrice":67425.96,
    "unrealisedPnl":-0.004937,"realisedPnl":-0.04045854,"liquidationPrice":45141.9,
    "bankruptPrice":44916.5,"posMargin":22.5146,"maintMargin":0.3410,"leverage":3,
    "realLeverage":2.9,"marginMode":"ISOLATED","positionSide":"BOTH","settleCurrency":"USDT",
    "isOpen":true,"riskLimit":200000,"riskLimitLevel":1}``
    """

    id: str
    symbol: str
    cross_mode: bool = False
    current_qty: Decimal
    current_cost: Decimal | None = None
    avg_entry_price: Decimal | None = None
    mark_price: Decimal | None = None
    unrealised_pnl: Decimal | None = None
    realised_pnl: Decimal | None = None
    liquidation_price: Decimal | None = None
    bankrupt_price: Decimal | None = None
    pos_margin: Decimal | None = None
    maint_margin: Decimal | None = None
    leverage: Decimal | None = None
    real_leverage: Decimal | None = None
    margin_mode: str | None = None
    position_side: str | None = None
    settle_currency: str | None = None
    is_open: bool
    risk_limit: Decimal | None = None
    risk_limit_level: int | None = None


class AccountOverview(Model, frozen=True, kw_only=True):
    """``GET /api/v1/account-overview`` (futures).

    ``{"accountEquity":394.439280806,"unrealisedPNL":20.15278,"marginBalance":371.394298816,
    "positionMargin":102.20664159,"orderMargin":10.06002012,"frozenFunds":0.0,
    "availableBalance":282.1,"currency":"USDT","riskRatio":0.0065289525,
    "maxWithdrawAmount":260.03}``
    """

    account_equity: Decimal
    unrealised_pnl: Decimal = msgspec.field(name="unrealisedPNL")
    margin_balance: Decimal
    position_margin: Decimal
    order_margin: Decimal
    frozen_funds: Decimal
    available_balance: Decimal
    currency: str
    risk_ratio: Decimal | None = None
    max_withdraw_amount: Decimal | None = None


class MarginMode(Model, frozen=True, kw_only=True):
    """``GET /api/v2/position/getMarginMode``: ``{"symbol":"XBTUSDTM","marginMode":"ISOLATED"}``."""

    symbol: str
    margin_mode: str


class CrossLeverage(Model, frozen=True, kw_only=True):
    """``GET /api/v2/getCrossUserLeverage``: ``{"symbol":"XBTUSDTM","leverage":"3"}``."""

    symbol: str
    leverage: Decimal


def parse_futures_order(data: object) -> FuturesOrder:
    """``GET /api/v1/orders/{orderId}`` or ``/api/v1/orders/byClientOid``."""
    return parse_as(FuturesOrder, data)


def parse_futures_orders(data: object) -> Paginated[FuturesOrder]:
    """``GET /api/v1/orders``."""
    return parse_as(Paginated[FuturesOrder], data)


def parse_futures_fills(data: object) -> Paginated[FuturesFill]:
    """``GET /api/v1/fills`` (futures)."""
    return parse_as(Paginated[FuturesFill], data)


def parse_position(data: object) -> Position:
    """``GET /api/v1/position``."""
    return parse_as(Position, data)


def parse_positions(data: object) -> list[Position]:
    """``GET /api/v1/positions``."""
    return parse_as(list[Position], data)


def parse_account_overview(data: object) -> AccountOverview:
    """``GET /api/v1/account-overview``."""
    return parse_as(AccountOverview, data)


def parse_margin_mode(data: object) -> MarginMode:
    """``GET /api/v2/position/getMarginMode`` and the change response."""
    return parse_as(MarginMode, data)


def parse_cross_leverage(data: object) -> CrossLeverage:
    """``GET /api/v2/getCrossUserLeverage``."""
    return parse_as(CrossLeverage, data)


def parse_bool(data: object) -> bool:
    """Endpoints whose ``data`` is ``true``/``false`` (change leverage, HF opened, delete key)."""
    return parse_as(bool, data)
