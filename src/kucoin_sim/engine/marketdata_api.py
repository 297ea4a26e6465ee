"""The public market-data part of the :class:`~kucoin_sim.engine.exchange.Exchange` facade."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from kucoin_sim.engine.marketdata import Candle, Stats24h
from kucoin_sim.engine.matching import Market
from kucoin_sim.engine.types import BookSnapshot, Side, Trade


@dataclass(frozen=True, slots=True)
class Ticker:
    """Level-1 ticker: last trade and best bid/ask (None when absent)."""

    symbol: str
    sequence: int
    price: Decimal | None
    size: Decimal | None
    best_bid: Decimal | None
    best_bid_size: Decimal | None
    best_ask: Decimal | None
    best_ask_size: Decimal | None
    time_ms: int


class MarketDataApi:
    """Book, ticker, 24h stats, trades and candles (mixed into Exchange)."""

    #: base volume per 24 h traded by the unmodelled rest of the market (market makers' config)
    background_volume: dict[str, Decimal]

    def market(self, symbol: str) -> Market:
        """The market of ``symbol`` (provided by the exchange)."""
        raise NotImplementedError

    def book(self, symbol: str, depth: int | None = None, now_ms: int = 0) -> BookSnapshot:
        """Aggregated visible book (hidden excluded, iceberg shown part only)."""
        book = self.market(symbol).book
        return BookSnapshot(
            symbol,
            book.sequence,
            book.depth(Side.BUY, depth),
            book.depth(Side.SELL, depth),
            now_ms,
        )

    def ticker(self, symbol: str) -> Ticker:
        """Last trade and best visible bid/ask."""
        market = self.market(symbol)
        bids = market.book.depth(Side.BUY, 1)
        asks = market.book.depth(Side.SELL, 1)
        last = market.tape.trades[-1] if market.tape.trades else None
        return Ticker(
            symbol,
            market.book.sequence,
            market.tape.last_price,
            market.tape.last_size,
            bids[0][0] if bids else None,
            bids[0][1] if bids else None,
            asks[0][0] if asks else None,
            asks[0][1] if asks else None,
            last.time_ms if last is not None else 0,
        )

    def stats_24h(self, symbol: str, now_ms: int) -> Stats24h:
        """Rolling 24h statistics from the simulated trades, plus the background volume."""
        stats = self.market(symbol).tape.stats_24h(now_ms)
        extra = self.background_volume.get(symbol)
        if not extra:
            return stats
        price = stats.last or self._mid(symbol)
        turnover = stats.turnover + (extra * price if price is not None else 0)
        return replace(stats, volume=stats.volume + extra, turnover=turnover)

    def _mid(self, symbol: str) -> Decimal | None:
        tick = self.ticker(symbol)
        if tick.price is not None:
            return tick.price
        if tick.best_bid is None or tick.best_ask is None:
            return None
        return (tick.best_bid + tick.best_ask) / 2

    def trades(self, symbol: str, limit: int = 100) -> list[Trade]:
        """Latest public trades, newest first."""
        return self.market(symbol).tape.recent(limit)

    def candles(self, symbol: str, interval_s: int, start_s: int, end_s: int) -> list[Candle]:
        """OHLCV candles built from the trades, newest first (``Candle.row()`` = KuCoin row)."""
        return self.market(symbol).tape.candles(interval_s, start_s, end_s)

    def last_price(self, symbol: str) -> Decimal | None:
        """The last trade (or set) price."""
        return self.market(symbol).tape.last_price
