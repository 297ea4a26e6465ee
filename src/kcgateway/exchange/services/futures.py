"""Futures (``api-futures.kucoin.com``): contracts, market data, orders, positions, account.

Futures sizes are integer lots (``size``); prices and most amounts arrive as JSON numbers and
are decoded straight into Decimal by the core models (never through float).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal

from kcgateway.errors import ValidationError
from kcgateway.exchange.services.base import (
    NotFound,
    Placed,
    Service,
    check_client_oid,
    opt_text,
    text,
)
from kcgateway.exchange.services.orders import placed_result
from kcgateway.kucoin import models as m


@dataclass(frozen=True, slots=True, kw_only=True)
class FuturesOrderRequest:
    """One futures order. ``size`` is in lots; ``leverage`` is needed to open isolated."""

    symbol: str
    side: str
    size: int
    order_type: str = "limit"
    price: Decimal | None = None
    leverage: Decimal | int | None = None
    margin_mode: str | None = None
    time_in_force: str | None = None
    post_only: bool | None = None
    reduce_only: bool | None = None
    close_order: bool | None = None
    remark: str | None = None
    stp: str | None = None
    client_oid: str | None = None

    def body(self, client_oid: str) -> dict[str, object]:
        """The wire body, clientOid first."""
        return {
            "clientOid": client_oid,
            "side": self.side,
            "symbol": self.symbol,
            "type": self.order_type,
            "price": opt_text(self.price),
            "size": self.size,
            "leverage": opt_text(self.leverage),
            "marginMode": self.margin_mode,
            "timeInForce": self.time_in_force,
            "postOnly": self.post_only,
            "reduceOnly": self.reduce_only,
            "closeOrder": self.close_order,
            "remark": self.remark,
            "stp": self.stp,
        }


class FuturesService(Service):
    """``client.futures``: everything on the futures host."""

    async def server_time(self) -> int:
        """Futures ``GET /api/v1/timestamp``."""
        return m.parse_server_time(await self._client.call("futures.timestamp"))

    async def contracts(self) -> list[m.FuturesContract]:
        """``GET /api/v1/contracts/active``."""
        return m.parse_contracts(await self._client.call("futures.contracts_active"))

    async def contract(self, symbol: str) -> m.FuturesContract:
        """``GET /api/v1/contracts/{symbol}``."""
        data = await self._client.call("futures.contract", path_params={"symbol": symbol})
        return m.parse_contract(data)

    async def ticker(self, symbol: str) -> m.FuturesTicker:
        """``GET /api/v1/ticker?symbol=``."""
        data = await self._client.call("futures.ticker", query={"symbol": symbol})
        return m.parse_futures_ticker(data)

    async def level2_snapshot(self, symbol: str) -> m.FuturesOrderBook:
        """``GET /api/v1/level2/snapshot?symbol=``: the full book."""
        data = await self._client.call("futures.level2_snapshot", query={"symbol": symbol})
        return m.parse_futures_order_book(data)

    async def klines(
        self,
        symbol: str,
        granularity: int = 1,
        *,
        from_ms: int | None = None,
        to_ms: int | None = None,
    ) -> list[m.Candle]:
        """``GET /api/v1/kline/query`` (granularity in minutes; times in ms)."""
        query = {"symbol": symbol, "granularity": granularity, "from": from_ms, "to": to_ms}
        return m.parse_futures_candles(await self._client.call("futures.kline", query=query))

    async def place(self, order: FuturesOrderRequest) -> m.OrderPlaced:
        """``POST /api/v1/orders``. Raises OutcomeUnknown(client_oid) when unsure."""
        return await self._place("futures.place", order)

    async def place_test(self, order: FuturesOrderRequest) -> m.OrderPlaced:
        """``POST /api/v1/orders/test``: checked, never matched."""
        return await self._place("futures.test", order)

    async def _place(self, endpoint: str, order: FuturesOrderRequest) -> m.OrderPlaced:
        if order.size <= 0:
            raise ValidationError("futures size is a positive number of lots", field="size")
        oid = check_client_oid(order.client_oid)
        data = await self._client.call(endpoint, body=order.body(oid), client_oid=oid)
        return placed_result(data, oid, endpoint)

    async def cancel(self, order_id: str) -> m.CancelResult:
        """``DELETE /api/v1/orders/{orderId}`` -> ``{cancelledOrderIds}``."""
        data = await self._client.call("futures.cancel_by_id", path_params={"orderId": order_id})
        return m.parse_cancel(data)

    async def cancel_by_client_oid(self, client_oid: str, symbol: str) -> m.CancelResult:
        """``DELETE /api/v1/orders/client-order/{clientOid}?symbol=``."""
        data = await self._client.call(
            "futures.cancel_by_client_oid",
            path_params={"clientOid": client_oid},
            query={"symbol": symbol},
        )
        return m.parse_cancel(data)

    async def cancel_all(self, symbol: str | None = None) -> m.CancelResult:
        """``DELETE /api/v3/orders?symbol=`` -> ``{cancelledOrderIds}``."""
        data = await self._client.call("futures.cancel_all", query={"symbol": symbol})
        return m.parse_cancel(data)

    async def get(self, order_id: str) -> m.FuturesOrder:
        """``GET /api/v1/orders/{orderId}``."""
        data = await self._client.call("futures.get_by_id", path_params={"orderId": order_id})
        return m.parse_futures_order(data)

    async def get_by_client_oid(self, client_oid: str) -> m.FuturesOrder:
        """``GET /api/v1/orders/byClientOid?clientOid=``."""
        query = {"clientOid": client_oid}
        return m.parse_futures_order(
            await self._client.call("futures.get_by_client_oid", query=query)
        )

    async def resolve(self, client_oid: str) -> Placed[m.FuturesOrder] | NotFound:
        """Look a clientOid up after OutcomeUnknown: placed (with the order) or not found."""
        return await self._resolve(
            "futures.get_by_client_oid",
            client_oid,
            m.parse_futures_order,
            query={"clientOid": client_oid},
        )

    def orders(
        self,
        *,
        status: str = "active",
        symbol: str | None = None,
        side: str | None = None,
        page_size: int = 50,
        limit: int | None = None,
    ) -> AsyncIterator[m.FuturesOrder]:
        """``GET /api/v1/orders?status=``, page after page."""
        query = {"status": status, "symbol": symbol, "side": side}
        return self._pages(
            "futures.list", m.parse_futures_orders, query=query, page_size=page_size, limit=limit
        )

    def fills(
        self,
        *,
        symbol: str | None = None,
        order_id: str | None = None,
        page_size: int = 50,
        limit: int | None = None,
    ) -> AsyncIterator[m.FuturesFill]:
        """``GET /api/v1/fills``, page after page."""
        query = {"symbol": symbol, "orderId": order_id}
        return self._pages(
            "futures.fills", m.parse_futures_fills, query=query, page_size=page_size, limit=limit
        )

    async def position(self, symbol: str) -> m.Position:
        """``GET /api/v1/position?symbol=``."""
        data = await self._client.call("futures.position", query={"symbol": symbol})
        return m.parse_position(data)

    async def positions(self, currency: str | None = None) -> list[m.Position]:
        """``GET /api/v1/positions``."""
        data = await self._client.call("futures.positions", query={"currency": currency})
        return m.parse_positions(data)

    async def margin_mode(self, symbol: str) -> m.MarginMode:
        """``GET /api/v2/position/getMarginMode?symbol=``."""
        data = await self._client.call("futures.margin_mode", query={"symbol": symbol})
        return m.parse_margin_mode(data)

    async def set_margin_mode(self, symbol: str, margin_mode: str) -> m.MarginMode:
        """``POST /api/v2/position/changeMarginMode`` (ISOLATED or CROSS)."""
        body = {"symbol": symbol, "marginMode": margin_mode}
        data = await self._client.call("futures.change_margin_mode", body=body)
        return m.parse_margin_mode(data)

    async def cross_leverage(self, symbol: str) -> m.CrossLeverage:
        """``GET /api/v2/getCrossUserLeverage?symbol=``."""
        data = await self._client.call("futures.cross_leverage", query={"symbol": symbol})
        return m.parse_cross_leverage(data)

    async def set_cross_leverage(self, symbol: str, leverage: Decimal | int) -> bool:
        """``POST /api/v2/changeCrossUserLeverage`` -> true."""
        body = {"symbol": symbol, "leverage": text(leverage)}
        data = await self._client.call("futures.change_cross_leverage", body=body)
        return m.parse_bool(data)

    async def account_overview(self, currency: str = "USDT") -> m.AccountOverview:
        """``GET /api/v1/account-overview?currency=``."""
        data = await self._client.call("futures.account_overview", query={"currency": currency})
        return m.parse_account_overview(data)
