"""Margin basics: cross and isolated symbol lists, margin accounts, HF margin orders."""

from __future__ import annotations

from typing import Any

from kucoin_sim.auth import Permission
from kucoin_sim.engine import AccountType, Order, SymbolSpec
from kucoin_sim.ratelimit import Pool
from kucoin_sim.rest import views
from kucoin_sim.rest.orders import engine_call, parse_order, place, validate_only
from kucoin_sim.rest.params import ApiError
from kucoin_sim.rest.routing import Call, RouteTable
from kucoin_sim.rest.spot_classic import filters
from kucoin_sim.rest.spot_hf import cursor_page

routes = RouteTable()
GENERAL, MARGIN = Permission.GENERAL, Permission.MARGIN


def _cross(s: SymbolSpec) -> dict[str, Any]:
    return {
        "symbol": s.symbol,
        "name": s.symbol,
        "enableTrading": s.enable_trading,
        "market": "USDS" if s.quote == "USDT" else s.quote,
        "baseCurrency": s.base,
        "quoteCurrency": s.quote,
        "baseIncrement": views.num(s.base_increment),
        "baseMinSize": views.num(s.base_min_size),
        "baseMaxSize": views.num(s.base_max_size),
        "quoteIncrement": views.num(s.quote_increment),
        "quoteMinSize": views.num(s.quote_min_size),
        "quoteMaxSize": views.num(s.quote_max_size),
        "priceIncrement": views.num(s.price_increment),
        "feeCurrency": s.quote,
        "priceLimitRate": views.num(s.price_limit_rate),
        "minFunds": views.num(s.min_funds),
    }


@routes.add("GET", "/api/v3/margin/symbols", pool=Pool.SPOT, weight=3, permission=GENERAL)
def cross_symbols(call: Call) -> object:
    """Cross-margin symbols -> ``{timestamp, items}``."""
    symbol = call.query.text("symbol")
    items = [_cross(s) for s in call.state.exchange.symbols.values()]
    return {"timestamp": call.now_ms, "items": [i for i in items if symbol in (None, i["symbol"])]}


def _isolated(s: SymbolSpec) -> dict[str, Any]:
    return {
        "symbol": s.symbol,
        "symbolName": s.symbol,
        "baseCurrency": s.base,
        "quoteCurrency": s.quote,
        "maxLeverage": 10,
        "flDebtRatio": "0.97",
        "tradeEnable": s.enable_trading,
        "autoRenewMaxDebtRatio": "0.96",
        "baseBorrowEnable": True,
        "quoteBorrowEnable": True,
        "baseTransferInEnable": True,
        "quoteTransferInEnable": True,
        "baseBorrowCoefficient": "1",
        "quoteBorrowCoefficient": "1",
    }


@routes.add("GET", "/api/v1/isolated/symbols", pool=Pool.SPOT, weight=20, permission=GENERAL)
def isolated_symbols(call: Call) -> object:
    """Isolated-margin symbols."""
    return [_isolated(s) for s in call.state.exchange.symbols.values()]


@routes.add("GET", "/api/v3/margin/accounts", pool=Pool.MANAGEMENT, weight=15, permission=GENERAL)
def cross_accounts(call: Call) -> object:
    """Cross-margin account balances (no borrowing is simulated: liabilities are 0)."""
    balances = call.state.exchange.balances(call.uid, AccountType.MARGIN)
    return {
        "totalAssetOfQuoteCurrency": "0",
        "totalLiabilityOfQuoteCurrency": "0",
        "debtRatio": "0",
        "status": "EFFECTIVE",
        "accounts": [
            {
                "currency": b.currency,
                "total": views.num(b.balance),
                "available": views.num(b.available),
                "hold": views.num(b.holds),
                "liability": "0",
                "maxBorrowSize": "0",
                "borrowEnabled": True,
                "transferInEnabled": True,
            }
            for b in balances
        ],
    }


def _margin_order(call: Call) -> Any:
    return parse_order(call.json, call.uid, AccountType.MARGIN, require_client_oid=True)


@routes.add(
    "POST", "/api/v3/hf/margin/order", pool=Pool.SPOT, weight=5, permission=MARGIN, trading=True
)
def margin_order(call: Call) -> object:
    """Place a margin order from the margin account (no auto-borrow) -> ``{orderId, clientOid}``."""
    if call.json.flag("autoBorrow") or call.json.flag("autoRepay"):
        raise ApiError("400100", "autoBorrow/autoRepay are not simulated")
    order = place(call, _margin_order(call))
    return {
        "orderId": order.id,
        "clientOid": order.client_oid,
        "borrowSize": None,
        "loanApplyId": None,
    }


@routes.add("POST", "/api/v3/hf/margin/order/test", pool=Pool.SPOT, weight=5, permission=MARGIN)
def margin_order_test(call: Call) -> object:
    """Validate a margin order only."""
    req = _margin_order(call)
    return {"orderId": validate_only(call, req), "clientOid": req.client_oid}


@routes.add(
    "DELETE", "/api/v3/hf/margin/orders/{orderId}", pool=Pool.SPOT, weight=5, permission=MARGIN
)
def cancel_margin_order(call: Call) -> object:
    """Cancel a margin order -> ``{orderId}``."""
    call.query.req("symbol", max_len=32)
    order_id = call.path("orderId")
    engine_call(
        lambda: call.state.exchange.cancel(call.uid, order_id, call.now_ms, AccountType.MARGIN)
    )
    return {"orderId": order_id}


# --- HF margin order queries and cancels (mirror HF spot, restricted to the margin account).
# Cross and isolated margin share the one simulated margin account: ``tradeType``
# (MARGIN_TRADE | MARGIN_ISOLATED_TRADE) is checked but both list the same orders.

_TRADE_TYPES = ["MARGIN_TRADE", "MARGIN_ISOLATED_TRADE"]


def _symbol(call: Call) -> str:
    return call.query.req("symbol", max_len=32)


def _trade_type(call: Call) -> str:
    return call.query.pick("tradeType", _TRADE_TYPES, "MARGIN_TRADE")


def _margin_only(order: Order | None) -> Order:
    if order is None or order.account_type is not AccountType.MARGIN:
        raise ApiError("126043", "order not exist.")
    return order


@routes.add(
    "DELETE",
    "/api/v3/hf/margin/orders/client-order/{clientOid}",
    pool=Pool.SPOT,
    weight=5,
    permission=MARGIN,
)
def cancel_margin_by_client_oid(call: Call) -> object:
    """Cancel a margin order by clientOid (``symbol`` required) -> ``{clientOid}``."""
    _symbol(call)
    client_oid = call.path("clientOid")
    _margin_only(call.state.exchange.get_by_client_oid(call.uid, client_oid))
    engine_call(
        lambda: call.state.exchange.cancel_by_client_oid(
            call.uid, client_oid, call.now_ms, AccountType.MARGIN
        )
    )
    return {"clientOid": client_oid}


@routes.add("DELETE", "/api/v3/hf/margin/orders", pool=Pool.SPOT, weight=10, permission=MARGIN)
def cancel_margin_symbol(call: Call) -> object:
    """Cancel every margin order of one symbol (``symbol``, ``tradeType``) -> ``"success"``."""
    symbol = _symbol(call)
    _trade_type(call)
    call.state.exchange.cancel_all(call.uid, symbol, AccountType.MARGIN, call.now_ms, stop=False)
    return "success"


@routes.add("GET", "/api/v3/hf/margin/orders/active", pool=Pool.SPOT, weight=4, permission=GENERAL)
def active_margin_orders(call: Call) -> object:
    """Every active margin order of a symbol (a list)."""
    symbol = _symbol(call)
    _trade_type(call)
    orders = call.state.exchange.orders(
        call.uid, status="active", symbol=symbol, account_type=AccountType.MARGIN, stop=False
    )
    return [views.hf_order(o) for o in orders]


@routes.add("GET", "/api/v3/hf/margin/orders/done", pool=Pool.SPOT, weight=10, permission=GENERAL)
def done_margin_orders(call: Call) -> object:
    """Done margin orders with cursor pagination -> ``{lastId, items}``."""
    flt = filters(call)
    flt["symbol"] = _symbol(call)
    _trade_type(call)
    orders = call.state.exchange.orders(
        call.uid, status="done", account_type=AccountType.MARGIN, stop=False, **flt
    )
    page, last_id = cursor_page(orders, lambda o: o.seq, call)
    return {"lastId": last_id, "items": [views.hf_order(o) for o in page]}


@routes.add(
    "GET",
    "/api/v3/hf/margin/orders/client-order/{clientOid}",
    pool=Pool.SPOT,
    weight=5,
    permission=GENERAL,
)
def get_margin_by_client_oid(call: Call) -> object:
    """One margin order by clientOid (``symbol`` required)."""
    _symbol(call)
    order = call.state.exchange.get_by_client_oid(call.uid, call.path("clientOid"))
    return views.hf_order(_margin_only(order))


@routes.add(
    "GET", "/api/v3/hf/margin/orders/{orderId}", pool=Pool.SPOT, weight=5, permission=GENERAL
)
def get_margin_order(call: Call) -> object:
    """One margin order by id (``symbol`` required)."""
    _symbol(call)
    order = call.state.exchange.get(call.uid, call.path("orderId"))
    return views.hf_order(_margin_only(order))


@routes.add("GET", "/api/v3/hf/margin/fills", pool=Pool.SPOT, weight=5, permission=GENERAL)
def margin_fills(call: Call) -> object:
    """Margin fills with cursor pagination -> ``{items, lastId}``."""
    flt = filters(call)
    flt["symbol"] = _symbol(call)
    _trade_type(call)
    found = call.state.exchange.fills(
        call.uid, order_id=call.query.text("orderId"), account_type=AccountType.MARGIN, **flt
    )
    page, last_id = cursor_page(found, lambda f: int(f.trade_id), call)
    return {"items": [views.fill(f) for f in page], "lastId": last_id}
