"""Spot stop orders: ``/api/v1/stop-order...`` (an order that enters the book at ``stopPrice``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

from kcgateway.exchange.services.base import Service, text
from kcgateway.exchange.services.orders import SpotOrder, place_one
from kcgateway.kucoin import models as m


class StopOrders(Service):
    """``client.spot.stop``: place, cancel, list and get stop orders."""

    async def place(
        self,
        order: SpotOrder,
        *,
        stop_price: Decimal,
        stop: str | None = None,
        trade_type: str = "TRADE",
    ) -> m.OrderPlaced:
        """``POST /api/v1/stop-order``: ``stop`` is ``loss`` or ``entry`` (default by price)."""
        extra: dict[str, object] = {
            "stopPrice": text(stop_price),
            "stop": stop,
            "tradeType": trade_type,
        }
        return await place_one(self._client, "spot.stop.place", order, extra=extra)

    async def cancel(self, order_id: str) -> m.CancelResult:
        """``DELETE /api/v1/stop-order/{orderId}`` -> ``{cancelledOrderIds}``."""
        data = await self._client.call("spot.stop.cancel_by_id", path_params={"orderId": order_id})
        return m.parse_cancel(data)

    async def cancel_by_client_oid(self, client_oid: str, symbol: str) -> m.CancelResult:
        """``DELETE /api/v1/stop-order/cancelOrderByClientOid?symbol=&clientOid=``."""
        query = {"symbol": symbol, "clientOid": client_oid}
        return m.parse_cancel(
            await self._client.call("spot.stop.cancel_by_client_oid", query=query)
        )

    async def cancel_batch(
        self, *, symbol: str | None = None, order_ids: list[str] | None = None
    ) -> m.CancelResult:
        """``DELETE /api/v1/stop-order/cancel?symbol=&orderIds=`` -> ``{cancelledOrderIds}``."""
        query = {"symbol": symbol, "orderIds": ",".join(order_ids) if order_ids else None}
        return m.parse_cancel(await self._client.call("spot.stop.cancel_batch", query=query))

    async def get(self, order_id: str) -> m.StopOrder:
        """``GET /api/v1/stop-order/{orderId}``."""
        data = await self._client.call("spot.stop.get_by_id", path_params={"orderId": order_id})
        return m.parse_stop_order(data)

    async def get_by_client_oid(
        self, client_oid: str, symbol: str | None = None
    ) -> list[m.StopOrder]:
        """``GET /api/v1/stop-order/queryOrderByClientOid``: a list (usually of one)."""
        query = {"clientOid": client_oid, "symbol": symbol}
        data = await self._client.call("spot.stop.get_by_client_oid", query=query)
        return m.parse_as(list[m.StopOrder], data)

    def orders(
        self,
        *,
        symbol: str | None = None,
        side: str | None = None,
        trade_type: str | None = None,
        page_size: int = 50,
        limit: int | None = None,
    ) -> AsyncIterator[m.StopOrder]:
        """``GET /api/v1/stop-order`` (untriggered stop orders), page after page."""
        query = {"symbol": symbol, "side": side, "tradeType": trade_type}
        return self._pages(
            "spot.stop.list", m.parse_stop_orders, query=query, page_size=page_size, limit=limit
        )
