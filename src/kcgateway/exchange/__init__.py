"""I/O adapters around the protocol core: transport, REST client, services, streams.

The names most callers need::

    from kcgateway.exchange import Hosts, KuCoinClient, SyncKuCoinClient
"""

from kcgateway.exchange.budget import Budget, LocalBudget
from kcgateway.exchange.rest import Hosts, KuCoinClient
from kcgateway.exchange.services.base import NotFound, Placed
from kcgateway.exchange.services.futures import FuturesOrderRequest
from kcgateway.exchange.services.orders import OrderOptions, SpotOrder
from kcgateway.exchange.sync import SyncKuCoinClient
from kcgateway.exchange.transport import AiohttpTransport, RawResponse, Transport, TransportError

__all__ = [
    "AiohttpTransport",
    "Budget",
    "FuturesOrderRequest",
    "Hosts",
    "KuCoinClient",
    "LocalBudget",
    "NotFound",
    "OrderOptions",
    "Placed",
    "RawResponse",
    "SpotOrder",
    "SyncKuCoinClient",
    "Transport",
    "TransportError",
]
