"""KuCoin's three batch forms, pure: bodies read (the batch symbol a default, limits per
form) and each order's answer in its form."""

from __future__ import annotations

import json

import pytest

from kcgateway.errors import ValidationError
from kcgateway.gateway.facade.batch import Shape, answer, batch_items, failed, placed


def _raw(value: object) -> bytes:
    return json.dumps(value).encode()


def test_bodies_of_each_form() -> None:
    classic = _raw({"symbol": "BTC-USDT", "orderList": [{"side": "buy"}, {"symbol": "ETH-USDT"}]})
    assert batch_items(classic, Shape.CLASSIC) == [
        {"symbol": "BTC-USDT", "side": "buy"}, {"symbol": "ETH-USDT"}]  # fmt: skip
    assert batch_items(_raw([{"symbol": "XBTUSDTM"}]), Shape.FUTURES) == [{"symbol": "XBTUSDTM"}]
    assert batch_items(_raw({"orderList": [{"a": 1}]}), Shape.FUTURES) == [{"a": 1}]
    refusals = [
        (b"{", Shape.HF, "not JSON"),
        (_raw([{"symbol": "X"}]), Shape.HF, "JSON object"),
        (_raw({"orderList": [{}] * 6}), Shape.CLASSIC, "1 to 5"),
        (_raw({"orderList": [{}] * 21}), Shape.HF, "1 to 20"),
        (_raw({"orderList": ["x"]}), Shape.HF, "JSON object"),
    ]
    for raw, shape, why in refusals:
        with pytest.raises(ValidationError, match=why):
            batch_items(raw, shape)


def test_answers_of_each_form() -> None:
    item = {"clientOid": "c1", "symbol": "BTC-USDT", "side": "buy", "type": "limit",
            "price": "10", "size": "1", "postOnly": {"no": "echo"}}  # fmt: skip
    ok = placed(Shape.CLASSIC, item, "o1", "c1")
    assert ok["id"] == "o1" and ok["status"] == "success" and "postOnly" not in ok
    bad = failed(Shape.CLASSIC, item, "400100", "why")
    assert (bad["id"], bad["status"], bad["failMsg"]) == (None, "fail", "why")
    assert answer(Shape.CLASSIC, [ok]) == {"data": [ok]}
    hf = placed(Shape.HF, item, "o1", "c1")
    assert hf == {"orderId": "o1", "clientOid": "c1", "success": True}
    refused = failed(Shape.FUTURES, {"clientOid": 5}, "400200", "risk")
    assert refused == {"orderId": None, "clientOid": None, "symbol": None, "code": "400200",
                       "msg": "risk"}  # fmt: skip
    assert answer(Shape.HF, []) == []
