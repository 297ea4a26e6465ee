"""Spot classic orders (``/api/v1/orders...``, the ``trade`` account) and stop orders.

KuCoin calls these "old" but they are live and the only way to trade a classic account.
``tradeType`` is ``TRADE`` (spot) unless given.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import msgspec

from kcgateway.errors import InvalidParameter, OrderNotFound
from kcgateway.exchange.services.base import NotFound, Placed, Service, check_client_oid
from kcgateway.exchange.services.orders import (
    NO_OPTIONS,
    OrderOptions,
    SpotOrder,
    place_one,
    validate,
)
from kcgateway.kucoin import models as m


class _ClassicBatchItem(msgspec.Struct, frozen=True, rename="camel"):
    id: str | None = None
    client_oid: str | None = None
    status: str = ""
    fail_msg: str | None = None


class _ClassicBatch(msgspec.Struct, frozen=True):
    """``POST /api/v1/orders/multi``: ``{"data":[{"id":..,"clientOid":..,"status":"success"}]}``."""

    data: list[_ClassicBatchItem]


def _batch_item(item: _ClassicBatchItem) -> m.BatchPlaceResult:
    return m.BatchPlaceResult(
        order_id=item.id or None,
        client_oid=item.client_oid,
        success=item.status == "success",
        fail_msg=item.fail_msg or None,
    )


class ClassicOrders(Service):
    """``client.spot.classic``: place, cancel, query classic spot orders."""

    async def place(
        self,
        symbol: str,
        side: str,
        order_type: str = "limit",
        *,
        price: Decimal | None = None,
        size: Decimal | None = None,
        funds: Decimal | None = None,
        client_oid: str | None = None,
        options: OrderOptions = NO_OPTIONS,
        trade_type: str = "TRADE",
    ) -> m.OrderPlaced:
        """``POST /api/v1/orders``. Raises OutcomeUnknown(client_oid) when unsure."""
        order = SpotOrder(
            symbol=symbol,
            side=side,
            order_type=order_type,
            price=price,
            size=size,
            funds=funds,
            client_oid=client_oid,
            options=options,
        )
        return await self.place_order(order, trade_type=trade_type)

    async def place_order(self, order: SpotOrder, *, trade_type: str = "TRADE") -> m.OrderPlaced:
        """Place a prepared :class:`SpotOrder` (``POST /api/v1/orders``)."""
        extra: dict[str, object] = {"tradeType": trade_type}
        return await place_one(self._client, "spot.classic.place", order, extra=extra)

    async def place_test(self, order: SpotOrder) -> m.OrderPlaced:
        """``POST /api/v1/orders/test``: validated by the exchange, never matched."""
        return await place_one(self._client, "spot.classic.test", order)

    async def place_batch(self, symbol: str, orders: list[SpotOrder]) -> list[m.BatchPlaceResult]:
        """``POST /api/v1/orders/multi``: up to 5 limit orders of one symbol.

        On an unknown outcome, :class:`OutcomeUnknown` carries every clientOid, comma-separated.
        """
        oids = [check_client_oid(o.client_oid) for o in orders]
        for order in orders:
            await validate(self._client, order)
        items = [o.body(oid) for o, oid in zip(orders, oids, strict=True)]
        body = {"symbol": symbol, "orderList": items}
        data = await self._client.call("spot.classic.batch", body=body, client_oid=",".join(oids))
        batch: _ClassicBatch = m.parse_as(_ClassicBatch, data)
        return [_batch_item(item) for item in batch.data]

    async def cancel(self, order_id: str) -> m.CancelResult:
        """``DELETE /api/v1/orders/{orderId}`` -> ``{cancelledOrderIds}``."""
        data = await self._client.call(
            "spot.classic.cancel_by_id", path_params={"orderId": order_id}
        )
        return m.parse_cancel(data)

    async def cancel_by_client_oid(self, client_oid: str) -> m.CancelResult:
        """``DELETE /api/v1/order/client-order/{clientOid}``."""
        data = await self._client.call(
            "spot.classic.cancel_by_client_oid", path_params={"clientOid": client_oid}
        )
        return m.parse_cancel(data)

    async def cancel_all(
        self, symbol: str | None = None, *, trade_type: str = "TRADE"
    ) -> m.CancelResult:
        """``DELETE /api/v1/orders?symbol=&tradeType=`` -> ``{cancelledOrderIds}``."""
        query: dict[str, object] = {"symbol": symbol, "tradeType": trade_type}
        return m.parse_cancel(await self._client.call("spot.classic.cancel_all", query=query))

    async def get(self, order_id: str) -> m.ClassicOrder:
        """``GET /api/v1/orders/{orderId}``."""
        data = await self._client.call("spot.classic.get_by_id", path_params={"orderId": order_id})
        return m.parse_classic_order(data)

    async def get_by_client_oid(self, client_oid: str) -> m.ClassicOrder:
        """``GET /api/v1/order/client-order/{clientOid}``."""
        data = await self._client.call(
            "spot.classic.get_by_client_oid", path_params={"clientOid": client_oid}
        )
        return m.parse_classic_order(data)

    async def resolve(self, client_oid: str) -> Placed[m.ClassicOrder] | NotFound:
        """Look a clientOid up after OutcomeUnknown: placed (with the order) or not found.

        KuCoin answers an unknown clientOid here with ``null`` data or ``400100``
        ("order not exist."); both mean "not found". The clientOid was checked by us before
        it was sent, so a 400100 cannot be about its format.
        """
        return await self._resolve(
            "spot.classic.get_by_client_oid",
            client_oid,
            m.parse_classic_order,
            path_params={"clientOid": client_oid},
            not_found=(OrderNotFound, InvalidParameter),
        )

    def orders(
        self,
        *,
        status: str = "active",
        symbol: str | None = None,
        side: str | None = None,
        trade_type: str = "TRADE",
        start_ms: int | None = None,
        end_ms: int | None = None,
        page_size: int = 50,
        limit: int | None = None,
    ) -> AsyncIterator[m.ClassicOrder]:
        """``GET /api/v1/orders`` (``status`` active or done), page after page."""
        query: dict[str, object] = {
            "status": status,
            "symbol": symbol,
            "side": side,
            "tradeType": trade_type,
        }
        query |= {"startAt": start_ms, "endAt": end_ms}
        return self._pages(
            "spot.classic.list",
            m.parse_classic_orders,
            query=query,
            page_size=page_size,
            limit=limit,
        )

    def fills(
        self,
        *,
        symbol: str | None = None,
        order_id: str | None = None,
        side: str | None = None,
        trade_type: str = "TRADE",
        start_ms: int | None = None,
        end_ms: int | None = None,
        page_size: int = 50,
        limit: int | None = None,
    ) -> AsyncIterator[m.Fill]:
        """``GET /api/v1/fills``, page after page."""
        query: dict[str, object] = {
            "symbol": symbol,
            "orderId": order_id,
            "side": side,
            "tradeType": trade_type,
        }
        query |= {"startAt": start_ms, "endAt": end_ms}
        return self._pages(
            "spot.classic.fills",
            m.parse_classic_fills,
            query=query,
            page_size=page_size,
            limit=limit,
        )
