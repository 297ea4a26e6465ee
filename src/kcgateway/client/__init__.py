"""A small typed client of the gateway's ``/v1`` API, for bots.

::

    from kcgateway.client import GatewayClient, OrderRejected

    with GatewayClient("http://127.0.0.1:8140", key) as gw:
        try:
            order = gw.place_order("paper", "BTC-USDT", "buy", price="60000", size="0.001")
        except OrderRejected as exc:
            print(exc.reason)
        for event in gw.events(after=0):
            print(event.id, event.kind, event.data)

It imports no gateway internals (an import-linter contract): only the HTTP API it speaks.
"""

from kcgateway.client.aio import AsyncGatewayClient, Backoff
from kcgateway.client.errors import (
    ConflictError,
    Forbidden,
    GatewayError,
    GatewayUnavailable,
    InvalidRequest,
    NotFound,
    OrderRejected,
    RequestRefused,
    Unauthenticated,
)
from kcgateway.client.models import Event, Order
from kcgateway.client.sync import GatewayClient

__all__ = [
    "AsyncGatewayClient",
    "Backoff",
    "ConflictError",
    "Event",
    "Forbidden",
    "GatewayClient",
    "GatewayError",
    "GatewayUnavailable",
    "InvalidRequest",
    "NotFound",
    "Order",
    "OrderRejected",
    "RequestRefused",
    "Unauthenticated",
]
