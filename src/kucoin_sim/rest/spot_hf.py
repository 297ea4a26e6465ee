"""HF spot order endpoints: ``/api/v1/hf/orders...`` and ``/api/v1/hf/fills``.

Cursor pagination (``done`` orders, fills): items older than ``lastId`` (an integer: the
order's sequence number, the fill's trade id), at most ``limit`` (default 20, max 100);
the answer's ``lastId`` is the cursor for the next page.
"""

from __future__ import annotations

from typing import Any

from kucoin_sim.auth import Permission
from kucoin_sim.engine import AccountType, Order
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
from kucoin_sim.rest.spot_classic import filters

routes = RouteTable()
SPOT, GENERAL = Permission.SPOT, Permission.GENERAL


def _parse(call: Call, p: Params) -> Any:
    return parse_order(p, call.uid, trading_account(call), require_client_oid=False)


def _sync_answer(order: Order) -> dict[str, Any]:
    return {
        "orderId": order.id,
        "clientOid": order.client_oid,
        "orderTime": order.created_at_ms,
        "originSize": views.num(order.size),
        "originFunds": views.num(order.funds),
        "dealSize": views.num(order.deal_size),
        "dealFunds": views.num(order.deal_funds),
        "remainSize": views.num(order.remaining if order.active else None),
        "canceledSize": views.num(order.cancelled_size),
        "status": "open" if order.active else "done",
        "matchTime": order.last_updated_ms,
    }


@routes.add("POST", "/api/v1/hf/orders", pool=Pool.SPOT, weight=1, permission=SPOT, trading=True)
def add_order(call: Call) -> object:
    """Place -> ``{orderId, clientOid}``."""
    order = place(call, _parse(call, call.json))
    return {"orderId": order.id, "clientOid": order.client_oid}


@routes.add(
    "POST", "/api/v1/hf/orders/sync", pool=Pool.SPOT, weight=1, permission=SPOT, trading=True
)
def add_order_sync(call: Call) -> object:
    """Place and report the state after matching."""
    return _sync_answer(place(call, _parse(call, call.json)))


@routes.add("POST", "/api/v1/hf/orders/test", pool=Pool.SPOT, weight=1, permission=SPOT)
def add_order_test(call: Call) -> object:
    """Validate only."""
    req = _parse(call, call.json)
    return {"orderId": validate_only(call, req), "clientOid": req.client_oid}


def _batch(call: Call, sync: bool) -> object:
    out = []
    for p in order_list(call, 20):

        def one(p: Params = p) -> dict[str, Any]:
            order = place(call, _parse(call, p))
            return (
                _sync_answer(order)
                if sync
                else {"orderId": order.id, "clientOid": order.client_oid}
            )

        out.append(batch_item(one, p))
    return out


@routes.add(
    "POST", "/api/v1/hf/orders/multi", pool=Pool.SPOT, weight=1, permission=SPOT, trading=True
)
def add_orders(call: Call) -> object:
    """Batch place (``orderList``, up to 20)."""
    return _batch(call, sync=False)


@routes.add(
    "POST", "/api/v1/hf/orders/multi/sync", pool=Pool.SPOT, weight=1, permission=SPOT, trading=True
)
def add_orders_sync(call: Call) -> object:
    """Batch place, synchronous answers."""
    return _batch(call, sync=True)


def _symbol(call: Call) -> str:
    return call.query.req("symbol", max_len=32)


def _cancel(call: Call, order_id: str) -> Order:
    _symbol(call)
    account = AccountType.TRADE_HF
    return engine_call(lambda: call.state.exchange.cancel(call.uid, order_id, call.now_ms, account))  # type: ignore[no-any-return]


@routes.add("DELETE", "/api/v1/hf/orders/{orderId}", pool=Pool.SPOT, weight=1, permission=SPOT)
def cancel_order(call: Call) -> object:
    """Cancel by id (``symbol`` required) -> ``{orderId}``."""
    return {"orderId": _cancel(call, call.path("orderId")).id}


@routes.add("DELETE", "/api/v1/hf/orders/sync/{orderId}", pool=Pool.SPOT, weight=1, permission=SPOT)
def cancel_order_sync(call: Call) -> object:
    """Cancel by id, synchronous answer."""
    return _sync_answer(_cancel(call, call.path("orderId")))


def _cancel_client_oid(call: Call) -> Order:
    _symbol(call)
    client_oid = call.path("clientOid")
    account = AccountType.TRADE_HF
    return engine_call(  # type: ignore[no-any-return]
        lambda: call.state.exchange.cancel_by_client_oid(call.uid, client_oid, call.now_ms, account)
    )


@routes.add(
    "DELETE",
    "/api/v1/hf/orders/client-order/{clientOid}",
    pool=Pool.SPOT,
    weight=1,
    permission=SPOT,
)
def cancel_by_client_oid(call: Call) -> object:
    """Cancel by clientOid -> ``{clientOid}``."""
    return {"clientOid": _cancel_client_oid(call).client_oid}


@routes.add(
    "DELETE",
    "/api/v1/hf/orders/sync/client-order/{clientOid}",
    pool=Pool.SPOT,
    weight=1,
    permission=SPOT,
)
def cancel_by_client_oid_sync(call: Call) -> object:
    """Cancel by clientOid, synchronous answer."""
    return _sync_answer(_cancel_client_oid(call))


@routes.add(
    "DELETE", "/api/v1/hf/orders/cancel/{orderId}", pool=Pool.SPOT, weight=2, permission=SPOT
)
def cancel_partial(call: Call) -> object:
    """Cancel ``cancelSize`` of an order -> ``{orderId, cancelSize}``."""
    _symbol(call)
    order_id = call.path("orderId")
    size = call.query.decimal("cancelSize", required=True)
    assert size is not None  # noqa: S101 - required=True
    engine_call(
        lambda: call.state.exchange.cancel_partial(
            call.uid, order_id, size, call.now_ms, AccountType.TRADE_HF
        )
    )
    return {"orderId": order_id, "cancelSize": views.num(size)}


@routes.add("DELETE", "/api/v1/hf/orders", pool=Pool.SPOT, weight=2, permission=SPOT)
def cancel_symbol(call: Call) -> object:
    """Cancel every order of one symbol -> ``"success"``."""
    call.state.exchange.cancel_all(
        call.uid, _symbol(call), AccountType.TRADE_HF, call.now_ms, stop=False
    )
    return "success"


@routes.add("DELETE", "/api/v1/hf/orders/cancelAll", pool=Pool.SPOT, weight=30, permission=SPOT)
def cancel_everything(call: Call) -> object:
    """Cancel every HF order -> ``{succeedSymbols, failedSymbols}``."""
    orders = call.state.exchange.cancel_all(
        call.uid, None, AccountType.TRADE_HF, call.now_ms, stop=False
    )
    return {"succeedSymbols": sorted({o.symbol for o in orders}), "failedSymbols": []}


def _get(call: Call, order: Order | None) -> object:
    _symbol(call)
    if order is None:
        raise ApiError("126043", "order not exist.")
    return views.hf_order(order)


@routes.add("GET", "/api/v1/hf/orders/active", pool=Pool.SPOT, weight=2, permission=GENERAL)
def active_orders(call: Call) -> object:
    """Every active order of a symbol (a list)."""
    orders = call.state.exchange.orders(
        call.uid,
        status="active",
        symbol=_symbol(call),
        stop=False,
        account_type=AccountType.TRADE_HF,
    )
    return [views.hf_order(o) for o in orders]


@routes.add("GET", "/api/v1/hf/orders/active/page", pool=Pool.SPOT, weight=2, permission=GENERAL)
def active_orders_page(call: Call) -> object:
    """Active orders, paginated with ``pageNum``/``pageSize``."""
    q = call.query
    page = max(1, q.integer("pageNum", 1) or 1)
    size = min(max(q.integer("pageSize", 20) or 20, 1), 100)
    orders = call.state.exchange.orders(
        call.uid,
        status="active",
        symbol=_symbol(call),
        stop=False,
        account_type=AccountType.TRADE_HF,
    )
    return views.paginate([views.hf_order(o) for o in orders], page, size)


@routes.add("GET", "/api/v1/hf/orders/active/symbols", pool=Pool.SPOT, weight=2, permission=SPOT)
def active_symbols(call: Call) -> object:
    """Symbols with active orders."""
    orders = call.state.exchange.orders(
        call.uid, status="active", stop=False, account_type=AccountType.TRADE_HF
    )
    return {"symbols": sorted({o.symbol for o in orders})}


def cursor_page(items: list[Any], cursor: Any, call: Call) -> tuple[list[Any], int | None]:
    """Items after ``lastId`` (by ``cursor(item)``, newest first), at most ``limit``."""
    last_id = call.query.integer("lastId")
    limit = min(max(call.query.integer("limit", 20) or 20, 1), 100)
    if last_id is not None:
        items = [i for i in items if cursor(i) < last_id]
    page = items[:limit]
    return page, (cursor(page[-1]) if page else None)


@routes.add("GET", "/api/v1/hf/orders/done", pool=Pool.SPOT, weight=2, permission=GENERAL)
def done_orders(call: Call) -> object:
    """Done orders with cursor pagination -> ``{lastId, items}``."""
    flt = filters(call)
    flt["symbol"] = _symbol(call)
    orders = call.state.exchange.orders(
        call.uid, status="done", stop=False, account_type=AccountType.TRADE_HF, **flt
    )
    page, last_id = cursor_page(orders, lambda o: o.seq, call)
    return {"lastId": last_id, "items": [views.hf_order(o) for o in page]}


@routes.add("GET", "/api/v1/hf/orders/{orderId}", pool=Pool.SPOT, weight=2, permission=GENERAL)
def get_order(call: Call) -> object:
    """One order by id (``symbol`` required)."""
    return _get(call, call.state.exchange.get(call.uid, call.path("orderId")))


@routes.add(
    "GET",
    "/api/v1/hf/orders/client-order/{clientOid}",
    pool=Pool.SPOT,
    weight=2,
    permission=GENERAL,
)
def get_by_client_oid(call: Call) -> object:
    """One order by clientOid (``symbol`` required)."""
    return _get(call, call.state.exchange.get_by_client_oid(call.uid, call.path("clientOid")))


@routes.add("GET", "/api/v1/hf/fills", pool=Pool.SPOT, weight=2, permission=GENERAL)
def fills(call: Call) -> object:
    """Fills with cursor pagination -> ``{items, lastId}``."""
    flt = filters(call)
    flt["symbol"] = _symbol(call)
    found = call.state.exchange.fills(
        call.uid, order_id=call.query.text("orderId"), account_type=AccountType.TRADE_HF, **flt
    )
    page, last_id = cursor_page(found, lambda f: int(f.trade_id), call)
    return {"items": [views.fill(f) for f in page], "lastId": last_id}


@routes.add(
    "POST", "/api/v1/hf/orders/alter", pool=Pool.SPOT, weight=1, permission=SPOT, trading=True
)
def modify_order(call: Call) -> object:
    """Modify = cancel + re-create with the new price/size -> ``{newOrderId, clientOid}``."""
    p = call.json
    ex = call.state.exchange
    order_id, client_oid = p.text("orderId"), p.text("clientOid")
    old = (
        ex.get(call.uid, order_id) if order_id else ex.get_by_client_oid(call.uid, client_oid or "")
    )
    if old is None:
        raise ApiError("126043", "order not exist.")
    new_price, new_size = p.decimal("newPrice"), p.decimal("newSize")
    order: Order = engine_call(
        lambda: ex.alter(
            call.uid,
            old.id,
            call.now_ms,
            new_price=new_price,
            new_size=new_size,
            account_type=AccountType.TRADE_HF,
        )
    )
    if order.client_oid:
        call.state.accepted_by_client_oid[order.client_oid] += 1
    return {"newOrderId": order.id, "clientOid": order.client_oid}
