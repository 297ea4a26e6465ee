"""Margin: HF margin orders, borrowing and repaying, margin accounts (``/api/v3/...``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

from kcgateway.exchange.services.base import NotFound, Placed, Service, text
from kcgateway.exchange.services.orders import SpotOrder, place_one
from kcgateway.kucoin import models as m


class MarginService(Service):
    """``client.margin``: cross or isolated margin trading on the spot host."""

    async def place(
        self,
        order: SpotOrder,
        *,
        isolated: bool = False,
        auto_borrow: bool = False,
        auto_repay: bool = False,
    ) -> m.OrderPlaced:
        """``POST /api/v3/hf/margin/order``. Raises OutcomeUnknown(client_oid) when unsure."""
        extra: dict[str, object] = {
            "isIsolated": isolated,
            "autoBorrow": auto_borrow,
            "autoRepay": auto_repay,
        }
        return await place_one(self._client, "margin.hf.place", order, extra=extra)

    async def place_test(self, order: SpotOrder, *, isolated: bool = False) -> m.OrderPlaced:
        """``POST /api/v3/hf/margin/order/test``."""
        extra: dict[str, object] = {"isIsolated": isolated}
        return await place_one(self._client, "margin.hf.test", order, extra=extra)

    async def cancel(self, order_id: str, symbol: str) -> m.CancelResult:
        """``DELETE /api/v3/hf/margin/orders/{orderId}?symbol=``."""
        data = await self._client.call(
            "margin.hf.cancel_by_id", path_params={"orderId": order_id}, query={"symbol": symbol}
        )
        return m.parse_cancel(data)

    async def cancel_by_client_oid(self, client_oid: str, symbol: str) -> m.CancelResult:
        """``DELETE /api/v3/hf/margin/orders/client-order/{clientOid}?symbol=``."""
        data = await self._client.call(
            "margin.hf.cancel_by_client_oid",
            path_params={"clientOid": client_oid},
            query={"symbol": symbol},
        )
        return m.parse_cancel(data)

    async def cancel_symbol(self, symbol: str, *, trade_type: str = "MARGIN_TRADE") -> str:
        """``DELETE /api/v3/hf/margin/orders?symbol=&tradeType=`` -> ``"success"``."""
        query = {"symbol": symbol, "tradeType": trade_type}
        data = await self._client.call("margin.hf.cancel_all_by_symbol", query=query)
        return m.parse_cancel_symbol(data)

    async def get(self, order_id: str, symbol: str) -> m.HfOrder:
        """``GET /api/v3/hf/margin/orders/{orderId}?symbol=`` (an HF-shaped order)."""
        data = await self._client.call(
            "margin.hf.get_by_id", path_params={"orderId": order_id}, query={"symbol": symbol}
        )
        return m.parse_hf_order(data)

    async def get_by_client_oid(self, client_oid: str, symbol: str) -> m.HfOrder:
        """``GET /api/v3/hf/margin/orders/client-order/{clientOid}?symbol=``."""
        data = await self._client.call(
            "margin.hf.get_by_client_oid",
            path_params={"clientOid": client_oid},
            query={"symbol": symbol},
        )
        return m.parse_hf_order(data)

    async def resolve(self, client_oid: str, symbol: str) -> Placed[m.HfOrder] | NotFound:
        """Look a clientOid up after OutcomeUnknown: placed (with the order) or not found."""
        return await self._resolve(
            "margin.hf.get_by_client_oid",
            client_oid,
            m.parse_hf_order,
            path_params={"clientOid": client_oid},
            query={"symbol": symbol},
        )

    async def active_list(
        self, symbol: str, *, trade_type: str = "MARGIN_TRADE"
    ) -> list[m.HfOrder]:
        """``GET /api/v3/hf/margin/orders/active?symbol=&tradeType=``."""
        query = {"symbol": symbol, "tradeType": trade_type}
        return m.parse_hf_orders(await self._client.call("margin.hf.active", query=query))

    def done_orders(
        self,
        symbol: str,
        *,
        trade_type: str = "MARGIN_TRADE",
        page_size: int = 100,
        limit: int | None = None,
    ) -> AsyncIterator[m.HfOrder]:
        """``GET /api/v3/hf/margin/orders/done``, newest first, following ``lastId``."""
        query = {"symbol": symbol, "tradeType": trade_type}
        return self._cursor(
            "margin.hf.done", m.parse_hf_done_orders, query=query, page_size=page_size, limit=limit
        )

    def fills(
        self,
        symbol: str,
        *,
        trade_type: str = "MARGIN_TRADE",
        page_size: int = 100,
        limit: int | None = None,
    ) -> AsyncIterator[m.Fill]:
        """``GET /api/v3/hf/margin/fills``, newest first, following ``lastId``."""
        query = {"symbol": symbol, "tradeType": trade_type}
        return self._cursor(
            "margin.hf.fills", m.parse_hf_fills, query=query, page_size=page_size, limit=limit
        )

    async def borrow(
        self,
        currency: str,
        size: Decimal,
        *,
        time_in_force: str = "IOC",
        symbol: str | None = None,
        isolated: bool = False,
    ) -> m.BorrowResult:
        """``POST /api/v3/margin/borrow`` -> ``{orderNo, actualSize}`` (not idempotent)."""
        body = {
            "currency": currency,
            "size": text(size),
            "timeInForce": time_in_force,
            "symbol": symbol,
            "isIsolated": isolated,
        }
        return m.parse_borrow(await self._client.call("margin.borrow", body=body))

    async def repay(
        self, currency: str, size: Decimal, *, symbol: str | None = None, isolated: bool = False
    ) -> m.BorrowResult:
        """``POST /api/v3/margin/repay`` -> ``{orderNo, actualSize}`` (not idempotent)."""
        body = {"currency": currency, "size": text(size), "symbol": symbol, "isIsolated": isolated}
        return m.parse_borrow(await self._client.call("margin.repay", body=body))

    async def cross_account(self, quote_currency: str = "USDT") -> m.CrossMarginAccount:
        """``GET /api/v3/margin/accounts`` (cross margin)."""
        query = {"quoteCurrency": quote_currency}
        data = await self._client.call("margin.cross_account", query=query)
        return m.parse_cross_margin_account(data)

    async def isolated_account(self, symbol: str | None = None) -> dict[str, Any]:
        """``GET /api/v3/isolated/accounts`` (untyped: the core has no model for it yet)."""
        data = await self._client.call("margin.isolated_account", query={"symbol": symbol})
        return m.parse_as(dict[str, Any], data)
