"""Futures host trading: orders, fills, positions, margin mode, leverage, account overview.

Numbers are JSON numbers here (PROTOCOL.md section 6); order sizes are lots; ``ts`` and
``orderTime`` are nanoseconds.
"""

from __future__ import annotations

from typing import Any

import msgspec

from kucoin_sim.auth import Permission
from kucoin_sim.engine import (
    AccountType,
    ContractSpec,
    DoneReason,
    MarginMode,
    Order,
    OrderRequest,
    OrderType,
    Side,
    Stp,
)
from kucoin_sim.ratelimit import Pool
from kucoin_sim.rest.futures_market import contract_spec
from kucoin_sim.rest.orders import engine_call, place, validate_only
from kucoin_sim.rest.params import ApiError, Params, bad
from kucoin_sim.rest.routing import Call, RouteTable
from kucoin_sim.rest.views import ZERO, fnum, paginate

routes = RouteTable()
FUT, GENERAL = Permission.FUTURES, Permission.GENERAL


def order_view(o: Order, spec: ContractSpec) -> dict[str, Any]:
    """Futures order object."""
    size = o.size or ZERO
    value = (o.price or ZERO) * size * spec.multiplier
    return {
        "id": o.id,
        "symbol": o.symbol,
        "type": o.type.value,
        "side": o.side.value,
        "price": str(fnum(o.price)),
        "size": fnum(size),
        "value": str(fnum(value)),
        "dealValue": str(fnum(o.deal_funds)),
        "dealSize": fnum(o.deal_size),
        "stp": o.stp.value if o.stp else "",
        "stop": "",
        "stopPriceType": "",
        "stopTriggered": False,
        "stopPrice": None,
        "timeInForce": o.tif.value,
        "postOnly": o.post_only,
        "hidden": o.hidden,
        "iceberg": o.iceberg,
        "leverage": str(fnum(o.leverage)),
        "forceHold": False,
        "closeOrder": False,
        "visibleSize": fnum(o.visible_size),
        "clientOid": o.client_oid,
        "remark": o.remark,
        "tags": o.tags or "",
        "isActive": o.active,
        "cancelExist": o.cancel_exist or o.done_reason is DoneReason.CANCELED,
        "createdAt": o.created_at_ms,
        "updatedAt": o.last_updated_ms,
        "endAt": None if o.active else o.last_updated_ms,
        "orderTime": o.created_at_ms * 1_000_000,
        "settleCurrency": spec.settle,
        "marginMode": (o.margin_mode or MarginMode.ISOLATED).value,
        "avgDealPrice": str(
            fnum(o.deal_funds / o.deal_size / spec.multiplier if o.deal_size else ZERO)
        ),
        "filledSize": fnum(o.deal_size),
        "filledValue": str(fnum(o.deal_funds)),
        "status": "open" if o.active else "done",
        "reduceOnly": o.reduce_only,
    }


def _view(call: Call, o: Order) -> dict[str, Any]:
    return order_view(o, contract_spec(call, o.symbol))


def parse_futures(p: Params, uid: str) -> OrderRequest:
    """One futures order (``size`` lots, or ``qty`` base, or ``valueQty`` quote)."""
    side = p.choice("side", [s.value for s in Side])
    if side is None:
        raise bad("side", "is required")
    order_type = OrderType(p.pick("type", ["limit", "market"], "limit"))
    stp = p.choice("stp", ["CN", "CO", "CB"])
    mode = p.choice("marginMode", ["ISOLATED", "CROSS"])
    return OrderRequest(
        uid=uid,
        symbol=p.req("symbol", max_len=32),
        side=Side(side),
        type=order_type,
        price=p.decimal("price") if order_type is OrderType.LIMIT else None,
        size=p.decimal("size"),
        qty=p.decimal("qty"),
        value_qty=p.decimal("valueQty"),
        client_oid=p.text("clientOid", max_len=40),
        post_only=p.flag("postOnly"),
        hidden=p.flag("hidden"),
        iceberg=p.flag("iceberg"),
        visible_size=p.decimal("visibleSize"),
        stp=Stp(stp) if stp else None,
        account_type=AccountType.FUTURES,
        remark=p.text("remark", max_len=100),
        leverage=p.decimal("leverage"),
        margin_mode=MarginMode(mode) if mode else None,
        reduce_only=p.flag("reduceOnly"),
        close_order=p.flag("closeOrder"),
    )


@routes.add("POST", "/api/v1/orders", pool=Pool.FUTURES, weight=2, permission=FUT, trading=True)
def add_order(call: Call) -> object:
    """Place -> ``{orderId, clientOid}``."""
    order = place(call, parse_futures(call.json, call.uid))
    return {"orderId": order.id, "clientOid": order.client_oid}


@routes.add("POST", "/api/v1/orders/test", pool=Pool.FUTURES, weight=2, permission=FUT)
def add_order_test(call: Call) -> object:
    """Validate only."""
    req = parse_futures(call.json, call.uid)
    contract_spec(call, req.symbol)
    return {"orderId": validate_only(call, req), "clientOid": req.client_oid}


@routes.add(
    "POST", "/api/v1/orders/multi", pool=Pool.FUTURES, weight=20, permission=FUT, trading=True
)
def add_orders(call: Call) -> object:
    """Batch place (a JSON array body, or ``orderList``)."""
    out = []
    for item in _batch_items(call):
        p = Params(item)
        try:
            order = place(call, parse_futures(p, call.uid))
            out.append(
                {
                    "orderId": order.id,
                    "clientOid": order.client_oid,
                    "symbol": order.symbol,
                    "code": "200000",
                    "msg": "success",
                }
            )
        except ApiError as exc:
            out.append(
                {
                    "orderId": None,
                    "clientOid": p.text("clientOid"),
                    "symbol": p.text("symbol"),
                    "code": exc.code,
                    "msg": exc.msg,
                }
            )
    return out


def _batch_items(call: Call) -> list[Any]:
    try:
        body = msgspec.json.decode(call.body) if call.body.strip() else None
    except msgspec.DecodeError as exc:
        raise ApiError("400100", "Request body is not valid JSON") from exc
    items = body if isinstance(body, list) else call.json_list("orderList")
    if not items or len(items) > 20 or not all(isinstance(i, dict) for i in items):
        raise bad("orderList", "must hold 1 to 20 orders")
    return items


def cancel_one(call: Call, order_id: str) -> None:
    """Cancel one of the caller's orders or raise the engine's answer."""
    engine_call(lambda: call.state.exchange.cancel(call.uid, order_id, call.now_ms))


@routes.add("DELETE", "/api/v1/orders/{orderId}", pool=Pool.FUTURES, weight=1, permission=FUT)
def cancel_order(call: Call) -> object:
    """Cancel by id -> ``{cancelledOrderIds}``."""
    order_id = call.path("orderId")
    engine_call(lambda: call.state.exchange.cancel(call.uid, order_id, call.now_ms))
    return {"cancelledOrderIds": [order_id]}


@routes.add(
    "DELETE", "/api/v1/orders/client-order/{clientOid}", pool=Pool.FUTURES, weight=1, permission=FUT
)
def cancel_by_client_oid(call: Call) -> object:
    """Cancel by clientOid -> ``{clientOid}``."""
    client_oid = call.path("clientOid")
    engine_call(lambda: call.state.exchange.cancel_by_client_oid(call.uid, client_oid, call.now_ms))
    return {"clientOid": client_oid}


def _cancel_all(call: Call) -> object:
    symbol = call.query.text("symbol")
    orders = call.state.exchange.cancel_all(call.uid, symbol, AccountType.FUTURES, call.now_ms)
    return {"cancelledOrderIds": [o.id for o in orders]}


routes.add("DELETE", "/api/v3/orders", pool=Pool.FUTURES, weight=10, permission=FUT)(_cancel_all)
routes.add("DELETE", "/api/v1/orders", pool=Pool.FUTURES, weight=800, permission=FUT)(_cancel_all)
routes.add("DELETE", "/api/v1/stopOrders", pool=Pool.FUTURES, weight=15, permission=FUT)(
    lambda call: {"cancelledOrderIds": []}
)


@routes.add("DELETE", "/api/v1/orders/multi-cancel", pool=Pool.FUTURES, weight=20, permission=FUT)
def multi_cancel(call: Call) -> object:
    """Batch cancel by ``orderIdsList`` (JSON body or query)."""
    ids = call.json_list("orderIdsList") or (
        call.query.text("orderIdsList", max_len=5000) or ""
    ).split(",")
    out = []
    for order_id in [i for i in ids if isinstance(i, str) and i]:
        try:
            cancel_one(call, order_id)
            out.append({"orderId": order_id, "clientOid": None, "code": "200", "msg": "success"})
        except ApiError as exc:
            out.append({"orderId": order_id, "clientOid": None, "code": exc.code, "msg": exc.msg})
    return out


@routes.add("GET", "/api/v1/orders", pool=Pool.FUTURES, weight=2, permission=GENERAL)
def list_orders(call: Call) -> object:
    """Paginated orders (``status`` active|done)."""
    status = call.query.choice("status", ["active", "done"])
    page, size = call.query.page(50, 1000)
    orders = call.state.exchange.orders(
        call.uid, status=status, symbol=call.query.text("symbol"), account_type=AccountType.FUTURES
    )
    return paginate([_view(call, o) for o in orders], page, size)


@routes.add("GET", "/api/v1/recentDoneOrders", pool=Pool.FUTURES, weight=5, permission=GENERAL)
def recent_done(call: Call) -> object:
    """The last 24 h of done orders."""
    orders = call.state.exchange.orders(
        call.uid, status="done", account_type=AccountType.FUTURES, start_ms=call.now_ms - 86_400_000
    )
    return [_view(call, o) for o in orders]


@routes.add("GET", "/api/v1/stopOrders", pool=Pool.FUTURES, weight=6, permission=GENERAL)
def stop_orders(call: Call) -> object:
    """Futures stop orders are not simulated: always an empty page."""
    page, size = call.query.page(50, 1000)
    return paginate([], page, size)


@routes.add("GET", "/api/v1/orders/byClientOid", pool=Pool.FUTURES, weight=5, permission=GENERAL)
def get_by_client_oid(call: Call) -> object:
    """One order by clientOid."""
    order = call.state.exchange.get_by_client_oid(call.uid, call.query.req("clientOid"))
    if order is None:
        raise ApiError("100001", "The order does not exist.")
    return _view(call, order)


@routes.add("GET", "/api/v1/orders/{orderId}", pool=Pool.FUTURES, weight=5, permission=GENERAL)
def get_order(call: Call) -> object:
    """One order by id."""
    order = call.state.exchange.get(call.uid, call.path("orderId"))
    if order is None:
        raise ApiError("100001", "The order does not exist.")
    return _view(call, order)


def fill_view(call: Call, f: Any) -> dict[str, Any]:
    """Futures fill item."""
    spec = contract_spec(call, f.symbol)
    return {
        "symbol": f.symbol,
        "tradeId": f.trade_id,
        "orderId": f.order_id,
        "side": f.side.value,
        "liquidity": f.liquidity.value,
        "forceTaker": False,
        "price": str(fnum(f.price)),
        "size": fnum(f.size),
        "value": str(fnum(f.funds)),
        "feeRate": str(fnum(f.fee_rate)),
        "fixFee": "0",
        "feeCurrency": spec.settle,
        "stop": "",
        "fee": str(fnum(f.fee)),
        "orderType": f.order_type.value,
        "tradeType": "trade",
        "createdAt": f.created_at_ms,
        "settleCurrency": spec.settle,
        "openFeePay": str(fnum(f.fee)),
        "closeFeePay": "0",
        "tradeTime": f.created_at_ms * 1_000_000,
        "marginMode": "ISOLATED",
    }


@routes.add("GET", "/api/v1/fills", pool=Pool.FUTURES, weight=5, permission=GENERAL)
def fills(call: Call) -> object:
    """Paginated fills."""
    page, size = call.query.page(50, 1000)
    found = call.state.exchange.fills(
        call.uid,
        symbol=call.query.text("symbol"),
        order_id=call.query.text("orderId"),
        account_type=AccountType.FUTURES,
    )
    return paginate([fill_view(call, f) for f in found], page, size)


@routes.add("GET", "/api/v1/recentFills", pool=Pool.FUTURES, weight=3, permission=GENERAL)
def recent_fills(call: Call) -> object:
    """The last 24 h of fills."""
    found = call.state.exchange.fills(
        call.uid, account_type=AccountType.FUTURES, start_ms=call.now_ms - 86_400_000
    )
    return [fill_view(call, f) for f in found]


def position_view(call: Call, v: Any) -> dict[str, Any]:
    """``/api/v1/position`` object."""
    spec = contract_spec(call, v.symbol)
    return {
        "id": f"{call.uid}-{v.symbol}",
        "symbol": v.symbol,
        "autoDeposit": False,
        "crossMode": v.margin_mode is MarginMode.CROSS,
        "maintMarginReq": fnum(spec.maint_margin),
        "riskLimit": 100000,
        "realLeverage": fnum(v.real_leverage),
        "delevPercentage": 0.1,
        "openingTimestamp": v.opened_ms,
        "currentTimestamp": call.now_ms,
        "currentQty": fnum(v.current_qty),
        "currentCost": fnum(v.current_cost),
        "currentComm": 0,
        "unrealisedCost": fnum(v.current_cost),
        "realisedGrossCost": 0,
        "realisedCost": 0,
        "isOpen": v.is_open,
        "markPrice": fnum(v.mark_price),
        "markValue": fnum(v.mark_value),
        "posCost": fnum(v.current_cost),
        "posCross": 0,
        "posInit": fnum(v.pos_margin),
        "posComm": 0,
        "posLoss": 0,
        "posMargin": fnum(v.pos_margin),
        "posMaint": fnum(v.maint_margin),
        "maintMargin": fnum(v.maint_margin),
        "realisedGrossPnl": fnum(v.realised_pnl),
        "realisedPnl": fnum(v.realised_pnl),
        "unrealisedPnl": fnum(v.unrealised_pnl),
        "unrealisedPnlPcnt": 0,
        "unrealisedRoePcnt": 0,
        "avgEntryPrice": fnum(v.avg_entry_price),
        "liquidationPrice": fnum(v.liquidation_price),
        "bankruptPrice": fnum(v.bankrupt_price),
        "settleCurrency": v.settle_currency,
        "isInverse": False,
        "marginMode": v.margin_mode.value,
        "positionSide": "BOTH",
        "leverage": fnum(v.leverage),
        "riskLimitLevel": 1,
    }


@routes.add("GET", "/api/v1/position", pool=Pool.FUTURES, weight=2, permission=FUT)
def position(call: Call) -> object:
    """One position (with mark price and PnL)."""
    spec = contract_spec(call)
    return position_view(
        call, engine_call(lambda: call.state.exchange.position(call.uid, spec.symbol))
    )


@routes.add("GET", "/api/v1/positions", pool=Pool.FUTURES, weight=2, permission=FUT)
def positions(call: Call) -> object:
    """Every open position."""
    return [position_view(call, v) for v in call.state.exchange.positions(call.uid)]


@routes.add("GET", "/api/v1/history-positions", pool=Pool.FUTURES, weight=2, permission=FUT)
def history_positions(call: Call) -> object:
    """Closed positions are not kept: an empty page."""
    page, size = call.query.page(10, 200)
    return paginate([], page, size)


@routes.add("GET", "/api/v2/position/getMarginMode", pool=Pool.FUTURES, weight=2, permission=FUT)
def get_margin_mode(call: Call) -> object:
    """``{symbol, marginMode}``."""
    spec = contract_spec(call)
    mode = call.state.exchange.get_margin_mode(call.uid, spec.symbol)
    return {"symbol": spec.symbol, "marginMode": mode.value}


@routes.add(
    "POST", "/api/v2/position/changeMarginMode", pool=Pool.FUTURES, weight=2, permission=FUT
)
def change_margin_mode(call: Call) -> object:
    """Switch ISOLATED/CROSS."""
    spec = contract_spec(call, call.json.req("symbol", max_len=32))
    mode = MarginMode(call.json.pick("marginMode", ["ISOLATED", "CROSS"], "ISOLATED"))
    engine_call(lambda: call.state.exchange.set_margin_mode(call.uid, spec.symbol, mode))
    return {"symbol": spec.symbol, "marginMode": mode.value}


@routes.add("GET", "/api/v2/getCrossUserLeverage", pool=Pool.FUTURES, weight=2, permission=FUT)
def get_cross_leverage(call: Call) -> object:
    """``{symbol, leverage}`` (leverage as a string)."""
    spec = contract_spec(call)
    lev = call.state.exchange.get_cross_leverage(call.uid, spec.symbol)
    return {"symbol": spec.symbol, "leverage": str(fnum(lev))}


@routes.add("POST", "/api/v2/changeCrossUserLeverage", pool=Pool.FUTURES, weight=2, permission=FUT)
def change_cross_leverage(call: Call) -> object:
    """Set cross leverage -> ``true``."""
    spec = contract_spec(call, call.json.req("symbol", max_len=32))
    lev = call.json.decimal("leverage", required=True)
    engine_call(lambda: call.state.exchange.set_cross_leverage(call.uid, spec.symbol, lev))  # type: ignore[arg-type]
    return True


@routes.add("GET", "/api/v2/position/getPositionMode", pool=Pool.FUTURES, weight=2, permission=FUT)
def position_mode(call: Call) -> object:
    """One-way mode only (``positionMode: 0``)."""
    return {"positionMode": 0}


@routes.add("GET", "/api/v1/account-overview", pool=Pool.FUTURES, weight=5, permission=FUT)
def account_overview(call: Call) -> object:
    """Futures account overview in ``currency`` (default USDT)."""
    currency = call.query.text("currency") or "USDT"
    o = call.state.exchange.account_overview(call.uid, currency)
    return {
        "accountEquity": fnum(o.account_equity),
        "unrealisedPNL": fnum(o.unrealised_pnl),
        "marginBalance": fnum(o.margin_balance),
        "positionMargin": fnum(o.position_margin),
        "orderMargin": fnum(o.order_margin),
        "frozenFunds": fnum(o.frozen_funds),
        "availableBalance": fnum(o.available_balance),
        "currency": o.currency,
        "riskRatio": fnum(o.risk_ratio),
        "maxWithdrawAmount": fnum(o.available_balance),
    }
