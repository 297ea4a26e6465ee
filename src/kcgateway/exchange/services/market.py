"""Spot market data: server time and status, symbols, currencies, tickers, books, candles."""

from __future__ import annotations

from kcgateway.exchange.services.base import Service
from kcgateway.kucoin import models as m


class MarketService(Service):
    """``client.market``: public spot market data (the full book is private)."""

    async def server_time(self) -> int:
        """``GET /api/v1/timestamp``: the exchange's time in ms."""
        return m.parse_server_time(await self._client.call("market.timestamp"))

    async def status(self) -> m.ServerStatus:
        """``GET /api/v1/status``: open, close or cancelonly."""
        return m.parse_server_status(await self._client.call("market.status"))

    async def symbols(self, market: str | None = None) -> list[m.Symbol]:
        """``GET /api/v2/symbols``. A full list (no ``market``) also refreshes the rules cache."""
        symbols = m.parse_symbols(
            await self._client.call("market.symbols", query={"market": market})
        )
        if market is None:
            self._client.rules.put_all(symbols)
        return symbols

    async def symbol(self, symbol: str) -> m.Symbol:
        """``GET /api/v2/symbols/{symbol}``."""
        data = await self._client.call("market.symbol", path_params={"symbol": symbol})
        return m.parse_symbol(data)

    async def currencies(self) -> list[m.Currency]:
        """``GET /api/v3/currencies``."""
        return m.parse_currencies(await self._client.call("market.currencies"))

    async def currency(self, currency: str) -> m.Currency:
        """``GET /api/v3/currencies/{currency}``."""
        data = await self._client.call("market.currency", path_params={"currency": currency})
        return m.parse_currency(data)

    async def ticker(self, symbol: str) -> m.Ticker:
        """``GET /api/v1/market/orderbook/level1``: best bid/ask and last trade."""
        data = await self._client.call("market.ticker", query={"symbol": symbol})
        return m.parse_ticker(data)

    async def all_tickers(self) -> m.AllTickers:
        """``GET /api/v1/market/allTickers`` (weight 15)."""
        return m.parse_all_tickers(await self._client.call("market.all_tickers"))

    async def stats(self, symbol: str) -> m.TickerStats:
        """``GET /api/v1/market/stats``: 24 h statistics."""
        return m.parse_stats(await self._client.call("market.stats", query={"symbol": symbol}))

    async def level2_20(self, symbol: str) -> m.OrderBook:
        """``GET /api/v1/market/orderbook/level2_20``: the best 20 levels per side."""
        data = await self._client.call("market.level2_20", query={"symbol": symbol})
        return m.parse_order_book(data)

    async def level2_100(self, symbol: str) -> m.OrderBook:
        """``GET /api/v1/market/orderbook/level2_100``: the best 100 levels per side."""
        data = await self._client.call("market.level2_100", query={"symbol": symbol})
        return m.parse_order_book(data)

    async def level2_full(self, symbol: str) -> m.OrderBook:
        """``GET /api/v3/market/orderbook/level2``: the full book (private, signed)."""
        data = await self._client.call("market.level2_full", query={"symbol": symbol})
        return m.parse_order_book(data)

    async def candles(
        self,
        symbol: str,
        interval: str = "1min",
        *,
        start_s: int | None = None,
        end_s: int | None = None,
    ) -> list[m.Candle]:
        """``GET /api/v1/market/candles`` (times in seconds; newest first, <= 1500 rows)."""
        query = {"symbol": symbol, "type": interval, "startAt": start_s, "endAt": end_s}
        return m.parse_spot_candles(await self._client.call("market.candles", query=query))

    async def trades(self, symbol: str) -> list[m.MarketTrade]:
        """``GET /api/v1/market/histories``: the latest public trades."""
        data = await self._client.call("market.histories", query={"symbol": symbol})
        return m.parse_market_trades(data)
