"""Spot stop orders: ``/api/v1/stop-order...`` (triggered by the last trade price)."""

from __future__ import annotations

from kucoin_sim.auth import Permission
from kucoin_sim.engine import Order
from kucoin_sim.ratelimit import Pool
from kucoin_sim.rest import views
from kucoin_sim.rest.orders import engine_call, parse_order, place, trading_account
from kucoin_sim.rest.params import ApiError
from kucoin_sim.rest.routing import Call, RouteTable

routes = RouteTable()
SPOT, GENERAL = Permission.SPOT, Permission.GENERAL


@routes.add("POST", "/api/v1/stop-order", pool=Pool.SPOT, weight=1, permission=SPOT, trading=True)
def add_stop(call: Call) -> object:
    """Place a stop order (``stop`` loss|entry, ``stopPrice``) -> ``{orderId, clientOid}``."""
    req = parse_order(
        call.json, call.uid, trading_account(call), require_client_oid=False, stop_order=True
    )
    order = place(call, req)
    return {"orderId": order.id, "clientOid": order.client_oid}


def _stops(call: Call, symbol: str | None = None) -> list[Order]:
    return call.state.exchange.orders(call.uid, status="active", symbol=symbol, stop=True)


@routes.add("GET", "/api/v1/stop-order", pool=Pool.SPOT, weight=8, permission=GENERAL)
def list_stops(call: Call) -> object:
    """Paginated untriggered stop orders."""
    page, size = call.query.page(50, 500)
    wanted = call.query.text("orderIds", max_len=5000)
    items = _stops(call, call.query.text("symbol"))
    if wanted:
        ids = set(wanted.split(","))
        items = [o for o in items if o.id in ids]
    return views.paginate([views.stop_order(o) for o in items], page, size)


@routes.add(
    "GET", "/api/v1/stop-order/queryOrderByClientOid", pool=Pool.SPOT, weight=3, permission=GENERAL
)
def stop_by_client_oid(call: Call) -> object:
    """Stop orders with a clientOid (a list)."""
    client_oid = call.query.req("clientOid")
    order = call.state.exchange.get_by_client_oid(call.uid, client_oid)
    return [views.stop_order(order)] if order is not None and order.is_stop else []


@routes.add("GET", "/api/v1/stop-order/{orderId}", pool=Pool.SPOT, weight=3, permission=GENERAL)
def get_stop(call: Call) -> object:
    """One stop order."""
    order = call.state.exchange.get(call.uid, call.path("orderId"))
    if order is None or not order.is_stop:
        raise ApiError("400100", "order not exist.")
    return views.stop_order(order)


@routes.add(
    "DELETE", "/api/v1/stop-order/cancelOrderByClientOid", pool=Pool.SPOT, weight=5, permission=SPOT
)
def cancel_stop_by_client_oid(call: Call) -> object:
    """Cancel by clientOid -> ``{cancelledOrderId, clientOid}``."""
    client_oid = call.query.req("clientOid")
    order = engine_call(
        lambda: call.state.exchange.cancel_by_client_oid(call.uid, client_oid, call.now_ms)
    )
    return {"cancelledOrderId": order.id, "clientOid": client_oid}


@routes.add("DELETE", "/api/v1/stop-order/cancel", pool=Pool.SPOT, weight=3, permission=SPOT)
def cancel_stops(call: Call) -> object:
    """Batch cancel (``symbol``, ``orderIds``) -> ``{cancelledOrderIds}``."""
    wanted = call.query.text("orderIds", max_len=5000)
    victims = _stops(call, call.query.text("symbol"))
    if wanted:
        ids = set(wanted.split(","))
        victims = [o for o in victims if o.id in ids]
    for order in victims:
        _cancel_one(call, order.id)
    return {"cancelledOrderIds": [o.id for o in victims]}


def _cancel_one(call: Call, order_id: str) -> None:
    engine_call(lambda: call.state.exchange.cancel(call.uid, order_id, call.now_ms))


@routes.add("DELETE", "/api/v1/stop-order/{orderId}", pool=Pool.SPOT, weight=3, permission=SPOT)
def cancel_stop(call: Call) -> object:
    """Cancel one stop order -> ``{cancelledOrderIds}``."""
    order_id = call.path("orderId")
    _cancel_one(call, order_id)
    return {"cancelledOrderIds": [order_id]}
