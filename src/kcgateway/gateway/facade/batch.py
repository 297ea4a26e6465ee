"""KuCoin batch orders, through the gateway's order path one order at a time. Pure shaping.

Three batch bodies (PROTOCOL.md section 5):

- spot HF ``POST /api/v1/hf/orders/multi[/sync]``: ``{"orderList":[...]}`` (up to 20; a
  top-level ``symbol`` is each order's default), answered ``[{"orderId","clientOid",
  "success":true} | {"success":false,"failMsg","clientOid"}]``;
- spot classic ``POST /api/v1/orders/multi``: ``{"symbol","orderList":[...]}`` (up to 5),
  answered ``{"data":[{"id","clientOid","symbol",...,"status":"success"|"fail","failMsg"}]}``;
- futures ``POST /api/v1/orders/multi``: a JSON array (or ``orderList``, up to 20), answered
  ``[{"orderId","clientOid","symbol","code","msg"}]``.

The service places each order through the same router as a single order (risk engine,
exactly-once intent, audit) in list order; one order's refusal (a risk denial, a bad field)
is that order's ``failMsg`` and does not stop the others, as on KuCoin. A body that is not a
batch at all (not JSON, no list, empty, too long) is refused whole before anything is placed.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from kcgateway.errors import ValidationError


class Shape(StrEnum):
    """Which of KuCoin's batch forms a route speaks."""

    HF = "hf"
    CLASSIC = "classic"
    FUTURES = "futures"


#: the most orders of one batch, per form (KuCoin's limits)
LIMITS = {Shape.HF: 20, Shape.CLASSIC: 5, Shape.FUTURES: 20}


def batch_items(raw: bytes, shape: Shape) -> list[dict[str, Any]]:
    """The orders of a batch body, each with the batch's ``symbol`` as its default."""
    try:
        data = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ValidationError("the body is not JSON", field="body") from None
    default: dict[str, Any] = {}
    items: object
    if shape is Shape.FUTURES and isinstance(data, list):
        items = data
    elif isinstance(data, dict):
        items = data.get("orderList")
        if isinstance(data.get("symbol"), str):
            default = {"symbol": data["symbol"]}
    else:
        raise ValidationError("the body must be a JSON object with an orderList", field="body")
    limit = LIMITS[shape]
    if not isinstance(items, list) or not 1 <= len(items) <= limit:
        raise ValidationError(f"orderList must hold 1 to {limit} orders", field="orderList")
    if not all(isinstance(item, dict) for item in items):
        raise ValidationError("each order of orderList must be a JSON object", field="orderList")
    return [default | item for item in items]


def placed(shape: Shape, item: dict[str, Any], order_id: str, client_oid: str) -> dict[str, Any]:
    """One placed order's entry in the batch answer."""
    if shape is Shape.HF:
        return {"orderId": order_id, "clientOid": client_oid, "success": True}
    if shape is Shape.FUTURES:
        return {"orderId": order_id, "clientOid": client_oid, "symbol": item.get("symbol"),
                "code": "200000", "msg": "success"}  # fmt: skip
    return _classic(item) | {"id": order_id, "clientOid": client_oid, "status": "success",
                             "failMsg": None}  # fmt: skip


def failed(shape: Shape, item: dict[str, Any], code: str, message: str) -> dict[str, Any]:
    """One refused order's entry in the batch answer (``message`` says why)."""
    oid = item.get("clientOid") if isinstance(item.get("clientOid"), str) else None
    if shape is Shape.HF:
        return {"success": False, "failMsg": message, "clientOid": oid}
    if shape is Shape.FUTURES:
        return {"orderId": None, "clientOid": oid, "symbol": item.get("symbol"), "code": code,
                "msg": message}  # fmt: skip
    return _classic(item) | {"id": None, "clientOid": oid, "status": "fail", "failMsg": message}


def answer(shape: Shape, entries: list[dict[str, Any]]) -> object:
    """The batch answer's ``data``."""
    return {"data": entries} if shape is Shape.CLASSIC else entries


def _classic(item: dict[str, Any]) -> dict[str, Any]:
    names = ("symbol", "side", "type", "price", "size", "funds", "timeInForce")
    return {n: item.get(n) for n in names if isinstance(item.get(n), str | int | float)}
