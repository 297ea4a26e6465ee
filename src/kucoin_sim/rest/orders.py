"""Order requests shared by classic, HF, stop and margin routes: parse, place, count.

Tolerates what real clients send (CLIENT-QUIRKS.md section 2): model defaults
(``timeInForce``, ``postOnly``, ``cancelAfter: -1``, ``tradeType``), nulls (``trade_type``),
unknown fields, numbers as strings or JSON numbers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from kucoin_sim.engine import (
    AccountType,
    EngineError,
    Order,
    OrderRequest,
    OrderType,
    Side,
    StopKind,
    Stp,
    TimeInForce,
)
from kucoin_sim.rest.params import ApiError, Params, bad
from kucoin_sim.rest.routing import Call

_SIDES = [s.value for s in Side]
_TYPES = [t.value for t in OrderType]
_TIFS = [t.value for t in TimeInForce]
_STPS = [s.value for s in Stp]
_STOPS = [s.value for s in StopKind]
CLIENT_OID_MAX = 40
_CLIENT_OID = re.compile(r"[A-Za-z0-9_-]+")


def engine_call(fn: Callable[[], Any]) -> Any:
    """Run an engine call, turning :class:`EngineError` into the KuCoin error answer."""
    try:
        return fn()
    except EngineError as exc:
        raise ApiError(exc.code, exc.message) from exc


def trading_account(call: Call) -> AccountType:
    """The account spot orders of the caller use: ``trade_hf`` for HF users, else ``trade``."""
    return AccountType.TRADE_HF if call.state.user(call.uid).hf else AccountType.TRADE


def _client_oid(p: Params, required: bool) -> str | None:
    value = p.text("clientOid", max_len=CLIENT_OID_MAX)
    if value is None and required:
        raise ApiError("400100", "validation.createOrder.clientOidIsRequired")
    if value is not None and not _CLIENT_OID.fullmatch(value):
        raise bad("clientOid", "may hold letters, digits, - and _ only")
    return value


def _stop(p: Params, stop_order: bool) -> tuple[StopKind | None, Any]:
    if not stop_order:
        return None, None
    kind = p.pick("stop", _STOPS, "loss")
    price = p.decimal("stopPrice", required=True)
    return StopKind(kind), price


def parse_order(
    p: Params,
    uid: str,
    account: AccountType,
    *,
    require_client_oid: bool,
    stop_order: bool = False,
) -> OrderRequest:
    """One spot order from a JSON body (or one ``orderList`` item)."""
    side = p.choice("side", _SIDES)
    if side is None:
        raise bad("side", "is required")
    symbol = p.req("symbol", max_len=32)
    order_type = OrderType(p.pick("type", _TYPES, "limit"))
    stp = p.choice("stp", _STPS)
    stop, stop_price = _stop(p, stop_order)
    if p.text("tradeType") == "MARGIN_TRADE":
        account = AccountType.MARGIN
    cancel_after = p.integer("cancelAfter", None)
    return OrderRequest(
        uid=uid,
        symbol=symbol,
        side=Side(side),
        type=order_type,
        price=p.decimal("price") if order_type is OrderType.LIMIT else None,
        size=p.decimal("size"),
        funds=p.decimal("funds") if order_type is OrderType.MARKET else None,
        client_oid=_client_oid(p, require_client_oid),
        tif=TimeInForce(p.pick("timeInForce", _TIFS, "GTC")),
        cancel_after_s=cancel_after if cancel_after is not None and cancel_after > 0 else None,
        post_only=p.flag("postOnly"),
        hidden=p.flag("hidden"),
        iceberg=p.flag("iceberg"),
        visible_size=p.decimal("visibleSize"),
        stp=Stp(stp) if stp else None,
        stop=stop,
        stop_price=stop_price,
        account_type=account,
        remark=p.text("remark", max_len=100),
        tags=p.text("tags", max_len=20),
    )


def attribute(call: Call, req: OrderRequest) -> OrderRequest:
    """Tag the order with the verified partner, as KuCoin does (``partner:<id>``)."""
    if call.auth is None or call.auth.partner is None or req.tags:
        return req
    return replace(req, tags=f"partner:{call.auth.partner.partner}")


def place(call: Call, req: OrderRequest) -> Order:
    """Place one order in the engine and count it per clientOid (control API reads it)."""
    order: Order = engine_call(lambda: call.state.exchange.place(attribute(call, req), call.now_ms))
    if req.client_oid:
        call.state.accepted_by_client_oid[req.client_oid] += 1
    return order


def validate_only(call: Call, req: OrderRequest) -> str:
    """Test orders: every rule ``place`` applies, nothing placed; answers a fresh id."""
    engine_call(lambda: call.state.exchange.check(req, call.now_ms))
    return call.state.new_id()


def order_list(call: Call, max_items: int = 20) -> list[Params]:
    """The ``orderList`` of a batch request (1..max_items objects)."""
    items = call.json_list("orderList")
    if not items or len(items) > max_items:
        raise bad("orderList", f"must hold 1 to {max_items} orders")
    if not all(isinstance(i, dict) for i in items):
        raise bad("orderList", "must hold objects")
    return [Params(i) for i in items]


def batch_item(result: Callable[[], dict[str, Any]], p: Params) -> dict[str, Any]:
    """One batch result: the order's answer, or its failure as ``{success:false, failMsg}``."""
    try:
        return {**result(), "success": True}
    except ApiError as exc:
        return {"success": False, "failMsg": exc.msg, "clientOid": p.text("clientOid")}
