"""Classic ("old") spot order endpoints: ``/api/v1/orders``, ``/api/v1/fills`` and friends."""

from __future__ import annotations

from typing import Any

from kucoin_sim.auth import Permission
from kucoin_sim.engine import AccountType, OrderType, Side
from kucoin_sim.ratelimit import Pool
from kucoin_sim.rest import views
from kucoin_sim.rest.orders import (
    batch_item,
    engine_call,
    order_list,
    parse_order,
    place,
    trading_account,
    validate_only,
)
from kucoin_sim.rest.params import ApiError, Params
from kucoin_sim.rest.routing import Call, RouteTable

routes = RouteTable()
NOT_FOUND = "order_not_exist_or_not_allow_to_cancel"


def _parse(call: Call, p: Params) -> Any:
    return parse_order(p, call.uid, trading_account(call), require_client_oid=True)


@routes.add(
    "POST", "/api/v1/orders", pool=Pool.SPOT, weight=2, permission=Permission.SPOT, trading=True
)
def add_order(call: Call) -> object:
    """Place an order -> ``{orderId}``."""
    return {"orderId": place(call, _parse(call, call.json)).id}


@routes.add("POST", "/api/v1/orders/test", pool=Pool.SPOT, weight=2, permission=Permission.SPOT)
def add_order_test(call: Call) -> object:
    """Validate an order without placing it -> ``{orderId}``."""
    return {"orderId": validate_only(call, _parse(call, call.json))}


@routes.add(
    "POST",
    "/api/v1/orders/multi",
    pool=Pool.SPOT,
    weight=3,
    permission=Permission.SPOT,
    trading=True,
)
def add_orders(call: Call) -> object:
    """Batch place (``symbol`` + ``orderList``) -> ``{data: [...]}``."""
    symbol = call.json.text("symbol")
    out = []
    for p in order_list(call, 5):
        merged = Params({"symbol": symbol, **p.data})

        def one(p: Params = merged) -> dict[str, Any]:
            order = place(call, _parse(call, p))
            return {**views.classic_order(order), "status": "success", "failMsg": None}

        out.append(batch_item(one, merged))
    return {"data": out}


def _get(call: Call, order_id: str) -> Any:
    order = call.state.exchange.get(call.uid, order_id)
    if order is None:
        raise ApiError("400100", "order not exist.")
    return order


@routes.add(
    "DELETE", "/api/v1/orders/{orderId}", pool=Pool.SPOT, weight=3, permission=Permission.SPOT
)
def cancel_order(call: Call) -> object:
    """Cancel by id -> ``{cancelledOrderIds: [id]}``."""
    order_id = call.path("orderId")
    engine_call(lambda: call.state.exchange.cancel(call.uid, order_id, call.now_ms))
    return {"cancelledOrderIds": [order_id]}


@routes.add(
    "DELETE",
    "/api/v1/order/client-order/{clientOid}",
    pool=Pool.SPOT,
    weight=3,
    permission=Permission.SPOT,
)
def cancel_by_client_oid(call: Call) -> object:
    """Cancel by clientOid -> ``{cancelledOrderId, clientOid, cancelledOcoOrderIds}``."""
    client_oid = call.path("clientOid")
    order = engine_call(
        lambda: call.state.exchange.cancel_by_client_oid(call.uid, client_oid, call.now_ms)
    )
    return {"cancelledOrderId": order.id, "clientOid": client_oid, "cancelledOcoOrderIds": None}


@routes.add("DELETE", "/api/v1/orders", pool=Pool.SPOT, weight=20, permission=Permission.SPOT)
def cancel_all(call: Call) -> object:
    """Cancel all (``symbol``?, ``tradeType``?) -> ``{cancelledOrderIds}``."""
    symbol = call.query.text("symbol")
    orders = call.state.exchange.cancel_all(
        call.uid, symbol, trading_account(call), call.now_ms, stop=False
    )
    return {"cancelledOrderIds": [o.id for o in orders]}


def filters(call: Call) -> dict[str, Any]:
    """The list filters shared by orders and fills."""
    q = call.query
    side = q.choice("side", [s.value for s in Side])
    order_type = q.text("type")
    return {
        "symbol": q.text("symbol"),
        "side": Side(side) if side else None,
        "type": OrderType(order_type) if order_type in ("limit", "market") else None,
        "start_ms": q.integer("startAt"),
        "end_ms": q.integer("endAt"),
    }


def trade_type_accounts(call: Call) -> tuple[AccountType, ...]:
    """The accounts a classic list covers: margin for ``MARGIN_TRADE``, else spot.

    Never futures: futures orders live on the futures host.
    """
    if call.query.text("tradeType") in ("MARGIN_TRADE", "MARGIN_ISOLATED_TRADE"):
        return (AccountType.MARGIN,)
    return (AccountType.TRADE, AccountType.TRADE_HF)


@routes.add("GET", "/api/v1/orders", pool=Pool.SPOT, weight=2, permission=Permission.GENERAL)
def list_orders(call: Call) -> object:
    """Paginated orders; ``status`` active|done (default done)."""
    status = call.query.choice("status", ["active", "done"], "done")
    page, size = call.query.page(50, 500)
    orders = call.state.exchange.orders(call.uid, status=status, stop=False, **filters(call))
    orders = [o for o in orders if o.account_type in trade_type_accounts(call)]
    return views.paginate([views.classic_order(o) for o in orders], page, size)


@routes.add("GET", "/api/v1/limit/orders", pool=Pool.SPOT, weight=3, permission=Permission.GENERAL)
def recent_orders(call: Call) -> object:
    """The last 24 h of orders (at most 1000)."""
    since = call.now_ms - 86_400_000
    orders = call.state.exchange.orders(call.uid, start_ms=since, stop=False)[:1000]
    return [views.classic_order(o) for o in orders]


@routes.add(
    "GET", "/api/v1/orders/{orderId}", pool=Pool.SPOT, weight=2, permission=Permission.GENERAL
)
def get_order(call: Call) -> object:
    """One order by id."""
    return views.classic_order(_get(call, call.path("orderId")))


@routes.add(
    "GET",
    "/api/v1/order/client-order/{clientOid}",
    pool=Pool.SPOT,
    weight=3,
    permission=Permission.GENERAL,
)
def get_by_client_oid(call: Call) -> object:
    """One order by clientOid (the latest with it)."""
    order = call.state.exchange.get_by_client_oid(call.uid, call.path("clientOid"))
    if order is None:
        raise ApiError("400100", "order not exist.")
    return views.classic_order(order)


@routes.add("GET", "/api/v1/fills", pool=Pool.SPOT, weight=10, permission=Permission.GENERAL)
def list_fills(call: Call) -> object:
    """Paginated fills (``orderId``, ``symbol``, ``side``, ``type``, time window)."""
    page, size = call.query.page(50, 500)
    fills = call.state.exchange.fills(
        call.uid, order_id=call.query.text("orderId"), **filters(call)
    )
    fills = [f for f in fills if f.account_type in trade_type_accounts(call)]
    return views.paginate([views.fill(f) for f in fills], page, size)


@routes.add("GET", "/api/v1/limit/fills", pool=Pool.SPOT, weight=20, permission=Permission.GENERAL)
def recent_fills(call: Call) -> object:
    """The last 24 h of fills (at most 1000)."""
    fills = call.state.exchange.fills(call.uid, start_ms=call.now_ms - 86_400_000)[:1000]
    return [views.fill(f) for f in fills]
