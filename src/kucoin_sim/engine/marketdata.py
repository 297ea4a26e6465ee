"""Public market data of one symbol, built from its own trades: tape, candles, 24h stats.

Trades are kept in a bounded deque (the latest ``keep`` trades); candles are aggregated on the
fly into one-minute buckets (bounded too), and any longer interval is built from those, so memory
stays bounded on a long-running simulator.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass
from decimal import Decimal

from kucoin_sim.engine.types import ZERO, Trade

MINUTE_S = 60
DAY_S = 86_400


@dataclass(slots=True)
class Candle:
    """One OHLCV bucket. ``volume`` in base units, ``turnover`` in quote."""

    start_s: int
    open: Decimal
    close: Decimal
    high: Decimal
    low: Decimal
    volume: Decimal
    turnover: Decimal

    def add(self, price: Decimal, size: Decimal, funds: Decimal) -> None:
        """Fold one trade in."""
        self.close = price
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.volume += size
        self.turnover += funds

    def merge(self, later: Candle) -> None:
        """Fold a later candle in."""
        self.close = later.close
        self.high = max(self.high, later.high)
        self.low = min(self.low, later.low)
        self.volume += later.volume
        self.turnover += later.turnover

    def row(self) -> list[str]:
        """KuCoin spot row order: [time, open, close, high, low, volume, turnover]."""
        values = (self.open, self.close, self.high, self.low, self.volume, self.turnover)
        return [str(self.start_s), *(str(v) for v in values)]


@dataclass(frozen=True, slots=True)
class Stats24h:
    """Rolling 24h statistics (from one-minute buckets). Fields are None without trades."""

    open: Decimal | None
    high: Decimal | None
    low: Decimal | None
    last: Decimal | None
    volume: Decimal
    turnover: Decimal

    @property
    def change_price(self) -> Decimal:
        """Change since the open: last - open (0 without trades)."""
        if self.open is None or self.last is None:
            return ZERO
        return self.last - self.open

    @property
    def change_rate(self) -> Decimal:
        """(last - open) / open, rounded to 4 places (0 without trades)."""
        if self.open is None or not self.open:
            return ZERO
        return (self.change_price / self.open).quantize(Decimal("0.0001"))


class Tape:
    """Trades, last price and candles of one symbol."""

    def __init__(self, keep_trades: int = 1000, keep_minutes: int = 43_200) -> None:
        self.trades: deque[Trade] = deque(maxlen=keep_trades)
        self.minutes: OrderedDict[int, Candle] = OrderedDict()
        self._keep_minutes = keep_minutes
        self.last_price: Decimal | None = None
        self.last_size: Decimal | None = None
        self.multiplier = Decimal(1)

    def record(self, trade: Trade) -> None:
        """Add one trade to the tape and its minute candle."""
        self.trades.append(trade)
        self.last_price = trade.price
        self.last_size = trade.size
        start = trade.time_ms // 1000 // MINUTE_S * MINUTE_S
        funds = trade.price * trade.size * self.multiplier
        candle = self.minutes.get(start)
        if candle is None:
            candle = Candle(start, trade.price, trade.price, trade.price, trade.price, ZERO, ZERO)
            self.minutes[start] = candle
            if len(self.minutes) > self._keep_minutes:
                self.minutes.popitem(last=False)
        candle.add(trade.price, trade.size, funds)

    def recent(self, limit: int) -> list[Trade]:
        """The latest ``limit`` trades, newest first."""
        out = list(self.trades)[-limit:] if limit > 0 else []
        out.reverse()
        return out

    def candles(self, interval_s: int, start_s: int, end_s: int) -> list[Candle]:
        """Candles of ``interval_s`` seconds with start in [start_s, end_s), newest first."""
        buckets: dict[int, Candle] = {}
        for minute, c in self.minutes.items():
            if not start_s <= minute < end_s:
                continue
            key = minute // interval_s * interval_s
            cur = buckets.get(key)
            if cur is None:
                buckets[key] = Candle(key, c.open, c.close, c.high, c.low, c.volume, c.turnover)
            else:
                cur.merge(c)
        return [buckets[k] for k in sorted(buckets, reverse=True)]

    def stats_24h(self, now_ms: int) -> Stats24h:
        """Statistics over the last 24 hours (minute resolution)."""
        since = now_ms // 1000 - DAY_S
        window = [c for m, c in self.minutes.items() if m >= since - MINUTE_S + 1]
        if not window:
            return Stats24h(None, None, None, self.last_price, ZERO, ZERO)
        return Stats24h(
            open=window[0].open,
            high=max(c.high for c in window),
            low=min(c.low for c in window),
            last=window[-1].close,
            volume=sum((c.volume for c in window), ZERO),
            turnover=sum((c.turnover for c in window), ZERO),
        )
