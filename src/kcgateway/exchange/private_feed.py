"""Private order and balance events over the WebSocket, as typed, de-duplicated streams.

::

    async with PrivateFeed(client) as feed:        # client: a KuCoinClient with credentials
        async for change in feed.orders():          # spot /spotMarket/tradeOrdersV2
            print(change.order_id, change.type, change.filled_size)

``futures=True`` uses the futures token and ``/contractMarket/tradeOrders``. A frame delivered
twice (a retransmission) is handed out once: the last 10,000 payloads are remembered. Events
that happen while the connection is down are not replayed by KuCoin: after a reconnect
(``StreamMetrics.reconnected``), reconcile open orders over REST.
"""

from __future__ import annotations

import asyncio
import random
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import aiohttp
import msgspec

from kcgateway.clock import Clock
from kcgateway.exchange.rest import KuCoinClient
from kcgateway.exchange.ws import DEFAULT_RETRY, StreamMetrics, WsClient, WsOwner
from kcgateway.kucoin.retry import RetryPolicy
from kcgateway.kucoin.ws_session import DataMessage

__all__ = ["BalanceChange", "OrderChange", "PrivateFeed"]

_SPOT_ORDERS = "/spotMarket/tradeOrdersV2"
_FUTURES_ORDERS = "/contractMarket/tradeOrders"
_BALANCE = "/account/balance"
_SEEN = 10_000


class OrderChange(msgspec.Struct, frozen=True, rename="camel"):
    """``data`` of an ``orderChange`` message.

    Sample: ``{"symbol":"BTC-USDT","orderType":"limit","side":"buy","orderId":"6720..",
    "type":"open","orderTime":1729..000000,"size":"0.001","filledSize":"0","price":"1000",
    "clientOid":"c1","remainSize":"0.001","status":"open","ts":1729..000000}``
    """

    symbol: str
    order_id: str
    type: str
    status: str
    side: str = ""
    order_type: str = ""
    client_oid: str = ""
    price: Decimal | None = None
    size: Decimal | None = None
    filled_size: Decimal = Decimal(0)
    remain_size: Decimal = Decimal(0)
    match_price: Decimal | None = None
    match_size: Decimal | None = None
    trade_id: str | None = None
    ts: int = 0


class BalanceChange(msgspec.Struct, frozen=True, rename="camel"):
    """``data`` of an ``account.balance`` message."""

    currency: str
    total: Decimal
    available: Decimal
    hold: Decimal
    available_change: Decimal = Decimal(0)
    hold_change: Decimal = Decimal(0)
    relation_event: str = ""
    account_id: str = ""


_order_decoder = msgspec.json.Decoder(OrderChange)
_balance_decoder = msgspec.json.Decoder(BalanceChange)


class PrivateFeed(WsOwner):
    """Order and balance events of the client's account (see the module docstring)."""

    def __init__(
        self,
        client: KuCoinClient,
        *,
        futures: bool = False,
        http: aiohttp.ClientSession | None = None,
        clock: Clock | None = None,
        metrics: StreamMetrics | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        rand: Callable[[], float] = random.random,
    ) -> None:
        super().__init__(http)
        self.subscribed: set[str] = set()  # topics the server acknowledged (since connect)
        self._orders_topic = _FUTURES_ORDERS if futures else _SPOT_ORDERS
        source = client.ws.futures_private_token if futures else client.ws.private_token

        def make_ws(http: aiohttp.ClientSession) -> WsClient:
            return WsClient(
                http,
                source,
                on_message=self._on_message,
                on_subscribed=self._on_subscribed,
                private=True,
                clock=clock,
                metrics=metrics,
                retry=retry,
                rand=rand,
            )

        self._make_ws = make_ws
        self._seen: OrderedDict[bytes, None] = OrderedDict()
        self._order_queues: list[asyncio.Queue[OrderChange]] = []
        self._balance_queues: list[asyncio.Queue[BalanceChange]] = []
        self._order_callbacks: list[Callable[[OrderChange], None]] = []
        self._subscribed_callbacks: list[Callable[[tuple[str, ...]], None]] = []

    def _build_ws(self, http: aiohttp.ClientSession) -> WsClient:
        return self._make_ws(http)

    async def start(self) -> None:
        """Subscribe to the order topic (``orders()`` does it for you)."""
        await self.ws.subscribe(self._orders_topic)

    def on_order(self, callback: Callable[[OrderChange], None]) -> None:
        """Call ``callback(change)`` for every order event."""
        self._order_callbacks.append(callback)

    def on_subscribed(self, callback: Callable[[tuple[str, ...]], None]) -> None:
        """Call ``callback(topic_keys)`` whenever the server acknowledges a subscription.

        That is after every (re)connect: events from then on arrive, so it is the moment to
        reconcile what may have been missed before.
        """
        self._subscribed_callbacks.append(callback)

    def _on_subscribed(self, keys: tuple[str, ...]) -> None:
        self.subscribed.update(keys)
        for callback in self._subscribed_callbacks:
            callback(keys)

    async def orders(self) -> AsyncIterator[OrderChange]:
        """Every order event, in the order the exchange sent them, each once."""
        queue: asyncio.Queue[OrderChange] = asyncio.Queue()
        self._order_queues.append(queue)
        try:
            await self.start()
            while True:
                yield await queue.get()
        finally:
            self._order_queues.remove(queue)

    async def balances(self) -> AsyncIterator[BalanceChange]:
        """Every balance change of the account."""
        queue: asyncio.Queue[BalanceChange] = asyncio.Queue()
        self._balance_queues.append(queue)
        try:
            await self.ws.subscribe(_BALANCE)
            while True:
                yield await queue.get()
        finally:
            self._balance_queues.remove(queue)

    def _on_message(self, msg: DataMessage) -> None:
        if msg.data in self._seen:
            return
        self._seen[msg.data] = None
        if len(self._seen) > _SEEN:
            self._seen.popitem(last=False)
        if msg.topic == self._orders_topic:
            change = _order_decoder.decode(msg.data)
            for callback in self._order_callbacks:
                callback(change)
            for queue in self._order_queues:
                queue.put_nowait(change)
        elif msg.topic == _BALANCE:
            balance = _balance_decoder.decode(msg.data)
            for bqueue in self._balance_queues:
                bqueue.put_nowait(balance)
