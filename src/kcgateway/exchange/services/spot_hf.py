"""Spot HF (high-frequency) orders: ``/api/v1/hf/orders...`` on the ``trade_hf`` account.

An HF account trades only through these endpoints; a classic account only through
:mod:`~kcgateway.exchange.services.spot_classic`. ``client.account.is_hf()`` says which one an
account is, so a caller never silently uses the wrong family.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

from kcgateway.exchange.services.base import NotFound, Placed, Service, check_client_oid
from kcgateway.exchange.services.orders import (
    NO_OPTIONS,
    OrderOptions,
    SpotOrder,
    place_one,
    validate,
)
from kcgateway.kucoin import models as m


class HfOrders(Service):
    """``client.spot.hf``: place, cancel, query HF spot orders."""

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
    ) -> m.OrderPlaced:
        """``POST /api/v1/hf/orders``. Raises OutcomeUnknown(client_oid) when unsure."""
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
        return await place_one(self._client, "spot.hf.place", order)

    async def place_order(self, order: SpotOrder) -> m.OrderPlaced:
        """Place a prepared :class:`SpotOrder` (``POST /api/v1/hf/orders``)."""
        return await place_one(self._client, "spot.hf.place", order)

    async def place_test(self, order: SpotOrder) -> m.OrderPlaced:
        """``POST /api/v1/hf/orders/test``: validated by the exchange, never matched."""
        return await place_one(self._client, "spot.hf.test", order)

    async def place_batch(self, orders: list[SpotOrder]) -> list[m.BatchPlaceResult]:
        """``POST /api/v1/hf/orders/multi`` (<= 20 orders, one symbol each).

        On an unknown outcome, :class:`OutcomeUnknown` carries every clientOid of the batch,
        comma-separated: resolve each.
        """
        oids = [check_client_oid(o.client_oid) for o in orders]
        for order in orders:
            await validate(self._client, order)
        body = {"orderList": [o.body(oid) for o, oid in zip(orders, oids, strict=True)]}
        data = await self._client.call("spot.hf.batch", body=body, client_oid=",".join(oids))
        return m.parse_batch_placed(data)

    async def cancel(self, order_id: str, symbol: str) -> m.CancelResult:
        """``DELETE /api/v1/hf/orders/{orderId}?symbol=`` (a request: confirm by query)."""
        data = await self._client.call(
            "spot.hf.cancel_by_id", path_params={"orderId": order_id}, query={"symbol": symbol}
        )
        return m.parse_cancel(data)

    async def cancel_by_client_oid(self, client_oid: str, symbol: str) -> m.CancelResult:
        """``DELETE /api/v1/hf/orders/client-order/{clientOid}?symbol=``."""
        data = await self._client.call(
            "spot.hf.cancel_by_client_oid",
            path_params={"clientOid": client_oid},
            query={"symbol": symbol},
        )
        return m.parse_cancel(data)

    async def cancel_symbol(self, symbol: str) -> str:
        """``DELETE /api/v1/hf/orders?symbol=``: every order of one symbol -> ``"success"``."""
        data = await self._client.call("spot.hf.cancel_all_by_symbol", query={"symbol": symbol})
        return m.parse_cancel_symbol(data)

    async def cancel_all(self) -> m.CancelAllResult:
        """``DELETE /api/v1/hf/orders/cancelAll``: every symbol."""
        return m.parse_cancel_all(await self._client.call("spot.hf.cancel_all"))

    async def get(self, order_id: str, symbol: str) -> m.HfOrder:
        """``GET /api/v1/hf/orders/{orderId}?symbol=``."""
        data = await self._client.call(
            "spot.hf.get_by_id", path_params={"orderId": order_id}, query={"symbol": symbol}
        )
        return m.parse_hf_order(data)

    async def get_by_client_oid(self, client_oid: str, symbol: str) -> m.HfOrder:
        """``GET /api/v1/hf/orders/client-order/{clientOid}?symbol=``."""
        data = await self._client.call(
            "spot.hf.get_by_client_oid",
            path_params={"clientOid": client_oid},
            query={"symbol": symbol},
        )
        return m.parse_hf_order(data)

    async def resolve(self, client_oid: str, symbol: str) -> Placed[m.HfOrder] | NotFound:
        """Look a clientOid up after OutcomeUnknown: placed (with the order) or not found."""
        return await self._resolve(
            "spot.hf.get_by_client_oid",
            client_oid,
            m.parse_hf_order,
            path_params={"clientOid": client_oid},
            query={"symbol": symbol},
        )

    async def active_list(self, symbol: str) -> list[m.HfOrder]:
        """``GET /api/v1/hf/orders/active?symbol=``: every active order, one call."""
        data = await self._client.call("spot.hf.active", query={"symbol": symbol})
        return m.parse_hf_orders(data)

    def active_orders(
        self, symbol: str, *, page_size: int = 50, limit: int | None = None
    ) -> AsyncIterator[m.HfOrder]:
        """``GET /api/v1/hf/orders/active/page``, page after page."""
        return self._pages(
            "spot.hf.active_page",
            m.parse_hf_orders_page,
            query={"symbol": symbol},
            page_size=page_size,
            limit=limit,
            page_key="pageNum",
        )

    def done_orders(
        self,
        symbol: str,
        *,
        side: str | None = None,
        order_type: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        page_size: int = 100,
        limit: int | None = None,
    ) -> AsyncIterator[m.HfOrder]:
        """``GET /api/v1/hf/orders/done``, newest first, following ``lastId``."""
        query: dict[str, object] = {"symbol": symbol, "side": side, "type": order_type}
        query |= {"startAt": start_ms, "endAt": end_ms}
        return self._cursor(
            "spot.hf.done", m.parse_hf_done_orders, query=query, page_size=page_size, limit=limit
        )

    def fills(
        self,
        symbol: str,
        *,
        order_id: str | None = None,
        side: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        page_size: int = 100,
        limit: int | None = None,
    ) -> AsyncIterator[m.Fill]:
        """``GET /api/v1/hf/fills``, newest first, following ``lastId``."""
        query: dict[str, object] = {"symbol": symbol, "orderId": order_id, "side": side}
        query |= {"startAt": start_ms, "endAt": end_ms}
        return self._cursor(
            "spot.hf.fills", m.parse_hf_fills, query=query, page_size=page_size, limit=limit
        )
