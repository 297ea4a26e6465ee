"""KuCoin order bodies and answers, translated to and from the gateway's order use cases. Pure.

A KuCoin spot order body (HF and classic share it)::

    {"clientOid":"bot-order-1","side":"buy","symbol":"BTC-USDT","type":"limit",
     "price":"20000","size":"0.001","timeInForce":"GTC"}

becomes an :class:`~kcgateway.gateway.orders.model.OrderRequest` on the facade credential's
bound account, keeping the client's clientOid (the router makes one when it is absent). Options
the gateway cannot honour exactly (post-only, hidden, iceberg, cancelAfter, self-trade
prevention, margin trade types) are refused with KuCoin's parameter error rather than placed as
a different order. The answer is KuCoin's: ``{"orderId","clientOid"}`` (HF) or ``{"orderId"}``
(classic), the exchange's order id.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from kcgateway.errors import OutcomeUnknown, Rejected, ValidationError
from kcgateway.gateway.orders.markets import FUTURES, MarketTerms
from kcgateway.gateway.orders.model import IntentView, OrderRequest
from kcgateway.store.types import OrderState

#: options refused unless absent or at their default (what they would change is not honoured)
_UNSUPPORTED_TRUE = ("postOnly", "hidden", "iceberg")
_UNSUPPORTED_SET = ("cancelAfter", "stp", "visibleSize", "stop", "stopPrice")
_TIME_IN_FORCE = ("GTC", "GTT", "IOC", "FOK")
_PLACED = (OrderState.ACKED, OrderState.OPEN, OrderState.FILLED, OrderState.CANCELLED)


def _body(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise ValidationError("the body is not JSON", field="body") from None
    if not isinstance(data, dict):
        raise ValidationError("the body must be a JSON object", field="body")
    return data


def _decimal(data: dict[str, Any], name: str) -> Decimal | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValidationError(f"{name} must be a number", field=name)
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValidationError(f"{name} must be a number", field=name) from None


def _text(data: dict[str, Any], name: str, default: str | None = None) -> str | None:
    value = data.get(name, default)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be a string", field=name)
    return value


def _refuse_options(data: dict[str, Any]) -> None:
    for name in _UNSUPPORTED_TRUE:
        if data.get(name) in (True, "true"):
            raise ValidationError(f"{name} is not supported by the gateway", field=name)
    for name in _UNSUPPORTED_SET:
        if data.get(name) not in (None, "", 0, "0"):
            raise ValidationError(f"{name} is not supported by the gateway", field=name)
    trade_type = data.get("tradeType", "TRADE")
    if trade_type not in (None, "", "TRADE"):
        raise ValidationError(
            "only spot orders (tradeType TRADE) are served here", field="tradeType"
        )


def order_request(raw: bytes, account_id: str) -> OrderRequest:
    """The gateway order a KuCoin body asks for, on ``account_id`` (ValidationError: a field)."""
    data = _body(raw)
    _refuse_options(data)
    tif = _text(data, "timeInForce")
    if tif is not None and tif not in _TIME_IN_FORCE:
        raise ValidationError("timeInForce must be GTC, GTT, IOC or FOK", field="timeInForce")
    symbol = _text(data, "symbol")
    if not symbol:
        raise ValidationError("symbol is required", field="symbol")
    return OrderRequest(
        account=account_id,
        symbol=symbol,
        side=_text(data, "side") or "",
        order_type=_text(data, "type", "limit") or "limit",
        price=_decimal(data, "price"),
        size=_decimal(data, "size"),
        funds=_decimal(data, "funds"),
        client_oid=_text(data, "clientOid") or None,
        time_in_force=None if tif in (None, "GTC") else tif,
    )


def _flag(data: dict[str, Any], name: str) -> bool:
    value = data.get(name, False)
    if value in (True, "true"):
        return True
    if value in (False, "false", None):
        return False
    raise ValidationError(f"{name} must be true or false", field=name)


def futures_request(raw: bytes, account_id: str) -> OrderRequest:
    """The gateway futures order a KuCoin futures body asks for, on ``account_id``.

    ``{"clientOid":"bot-2","side":"buy","symbol":"XBTUSDTM","leverage":5,"type":"limit",
    "price":"20000","size":1,"marginMode":"ISOLATED"}``: size in lots, leverage required.
    """
    data = _body(raw)
    _refuse_options({k: v for k, v in data.items() if k != "tradeType"})
    spot = order_request(json.dumps({**data, "tradeType": "TRADE"}).encode(), account_id)
    return OrderRequest(
        account=account_id,
        symbol=spot.symbol,
        side=spot.side,
        order_type=spot.order_type,
        price=spot.price,
        size=spot.size,
        client_oid=spot.client_oid,
        time_in_force=spot.time_in_force,
        terms=MarketTerms(
            FUTURES,
            margin_mode=_text(data, "marginMode"),
            leverage=_decimal(data, "leverage"),
            reduce_only=_flag(data, "reduceOnly"),
            close_order=_flag(data, "closeOrder"),
        ),
    )


def placed_answer(view: IntentView, *, hf: bool) -> dict[str, Any]:
    """KuCoin's answer to a placement, or the error that says why there is none.

    A rejected intent raises :class:`Rejected`; one whose outcome is still unknown raises
    :class:`OutcomeUnknown` (the gateway reconciles it by clientOid; so can the client).
    """
    if view.state in _PLACED and view.exchange_order_id:
        answer: dict[str, Any] = {"orderId": view.exchange_order_id}
        if hf:
            answer["clientOid"] = view.client_oid
        return answer
    if view.state in (OrderState.REJECTED, OrderState.NOT_PLACED):
        raise Rejected(
            "400100",
            f"the order was rejected (gateway order {view.id}, clientOid {view.client_oid})",
        )
    raise OutcomeUnknown(view.client_oid, reason=f"gateway order {view.id} is {view.state.value}")
