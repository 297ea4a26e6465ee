"""Margin: HF margin orders, borrowing and repaying, margin accounts (``/api/v3/...``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kcgateway.exchange.services.base import Service, text
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

    async def borrow(
        self,
        currency: str,
        size: Decimal,
        *,
        time_in_force: str = "IOC",
        symbol: str | None = None,
        isolated: bool = False,
    ) -> dict[str, Any]:
        """``POST /api/v3/margin/borrow`` -> ``{orderNo, actualSize}`` (not idempotent)."""
        body = {
            "currency": currency,
            "size": text(size),
            "timeInForce": time_in_force,
            "symbol": symbol,
            "isIsolated": isolated,
        }
        return m.parse_as(dict[str, Any], await self._client.call("margin.borrow", body=body))

    async def repay(
        self, currency: str, size: Decimal, *, symbol: str | None = None, isolated: bool = False
    ) -> dict[str, Any]:
        """``POST /api/v3/margin/repay`` -> ``{orderNo, actualSize}`` (not idempotent)."""
        body = {"currency": currency, "size": text(size), "symbol": symbol, "isIsolated": isolated}
        return m.parse_as(dict[str, Any], await self._client.call("margin.repay", body=body))

    async def cross_account(self, quote_currency: str = "USDT") -> dict[str, Any]:
        """``GET /api/v3/margin/accounts`` (cross margin)."""
        query = {"quoteCurrency": quote_currency}
        data = await self._client.call("margin.cross_account", query=query)
        return m.parse_as(dict[str, Any], data)

    async def isolated_account(self, symbol: str | None = None) -> dict[str, Any]:
        """``GET /api/v3/isolated/accounts``."""
        data = await self._client.call("margin.isolated_account", query={"symbol": symbol})
        return m.parse_as(dict[str, Any], data)
