"""The table machinery shared by the service case modules: Case, constants, helpers."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from kcgateway.exchange.rest import KuCoinClient
from kcgateway.exchange.services.orders import SpotOrder
from kcgateway.exchange.transport import RawResponse

from .helpers import new_broker, new_keys

KEYS = new_keys()
KEY_ID = "key-" + secrets.token_hex(4)
BROKER, BROKER_KEY = new_broker()
D = Decimal
SYM = "BTC-USDT"
OID = "order-1"
COID = "client-1"
PLACED = {"orderId": OID, "clientOid": COID}
SPOT_ORDER = SpotOrder(symbol=SYM, side="buy", price=D("67000.1"), size=D("0.001"), client_oid=COID)
LIMIT_BODY = {
    "clientOid": COID,
    "side": "buy",
    "symbol": SYM,
    "type": "limit",
    "price": "67000.1",
    "size": "0.001",
}


def raw(data: bytes) -> RawResponse:
    return RawResponse(200, {}, b'{"code":"200000","data":' + data + b"}")


@dataclass
class Case:
    id: str
    call: Callable[[KuCoinClient], Any]
    method: str
    path: str
    reply: object
    check: Callable[[Any], bool]
    query: str = ""
    body: dict[str, Any] | None = None
    host: str = "https://spot.test"
    private: bool = True
    broker: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _q(symbol: str = SYM) -> str:
    return f"symbol={symbol}"
