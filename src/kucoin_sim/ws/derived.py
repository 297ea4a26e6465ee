"""Derived spot topics: top-5/50 depth snapshots and candle updates (pure: ``now`` is passed in).

``/spotMarket/level2Depth5:{sym}`` and ``/spotMarket/level2Depth50:{sym}`` (subject ``level2``,
data ``{asks:[[p,s],...], bids:[[p,s],...], timestamp}``) are sent when the top 5/50 levels of a
book changed, at most once per :data:`DEPTH_PERIOD_MS` per symbol and depth; a change inside
the window is kept pending and sent by the first tick after the window. ``/market/candles:
{sym}_{interval}`` (subject ``trade.candles.update``) is sent once per batch that has trades of
that symbol, with the candle containing the last trade, built by the engine's own candle code.

Sample (depth 5)::

    {"type":"message","topic":"/spotMarket/level2Depth5:BTC-USDT","subject":"level2",
     "data":{"asks":[["65001","0.5"]],"bids":[["64999","0.4"]],"timestamp":1700000000000}}
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from kucoin_sim.engine import Exchange
from kucoin_sim.engine.events import Event, L2Change, TradeEvent
from kucoin_sim.rest.market import CANDLE_TYPES
from kucoin_sim.rest.views import num
from kucoin_sim.ws.feeds import Outgoing

DEPTH_PERIOD_MS = 100
DEPTHS = {"/spotMarket/level2Depth5": 5, "/spotMarket/level2Depth50": 50}
CANDLES_PREFIX = "/market/candles"

Levels = tuple[tuple[str, str], ...]


def candle_topic_ok(key: str) -> bool:
    """``/market/candles:BTC-USDT_1min`` names a symbol and a known interval."""
    symbol, sep, interval = key.partition(":")[2].rpartition("_")
    return bool(symbol) and bool(sep) and interval in CANDLE_TYPES


@dataclass
class _DepthState:
    sent: Levels | None = None  # asks then bids, as sent last time
    sent_ms: int | None = None


@dataclass
class DerivedFeeds:
    """State of the throttled depth topics; candles are stateless."""

    depth: dict[tuple[str, int], _DepthState] = field(default_factory=dict)
    pending: set[str] = field(default_factory=set)

    def messages(
        self, exchange: Exchange, events: Iterable[Event], now_ms: int, topics: Iterable[str]
    ) -> list[Outgoing]:
        """Depth and candle messages for this tick; ``topics`` = the subscribed topic keys."""
        trades: dict[str, int] = {}
        for event in events:
            if isinstance(event, L2Change) and event.symbol not in exchange.contracts:
                self.pending.add(event.symbol)
            elif isinstance(event, TradeEvent) and event.symbol not in exchange.contracts:
                trades[event.symbol] = event.time_ms
        wanted = set(topics)
        out = self._depths(exchange, now_ms, wanted)
        out.extend(_candles(exchange, trades, wanted))
        return out

    def _depths(self, exchange: Exchange, now_ms: int, wanted: set[str]) -> list[Outgoing]:
        out: list[Outgoing] = []
        for symbol in sorted(self.pending):
            waiting = False
            for prefix, depth in DEPTHS.items():
                topic = f"{prefix}:{symbol}"
                if topic not in wanted:
                    continue
                state = self.depth.setdefault((symbol, depth), _DepthState())
                if state.sent_ms is not None and now_ms - state.sent_ms < DEPTH_PERIOD_MS:
                    waiting = True
                    continue
                message = _depth(exchange, symbol, depth, now_ms, state)
                if message is not None:
                    out.append(message)
            if not waiting:
                self.pending.discard(symbol)
        return out


def _depth(
    exchange: Exchange, symbol: str, depth: int, now_ms: int, state: _DepthState
) -> Outgoing | None:
    book = exchange.book(symbol, depth, now_ms)
    asks = tuple((num(p), num(s)) for p, s in book.asks)
    bids = tuple((num(p), num(s)) for p, s in book.bids)
    levels = (*asks, ("|", "|"), *bids)
    if levels == state.sent:
        return None
    state.sent, state.sent_ms = levels, now_ms
    data = {
        "asks": [list(row) for row in asks],
        "bids": [list(row) for row in bids],
        "timestamp": now_ms,
    }
    prefix = next(p for p, d in DEPTHS.items() if d == depth)
    return Outgoing(f"{prefix}:{symbol}", "level2", data)


def _candles(exchange: Exchange, trades: dict[str, int], wanted: set[str]) -> list[Outgoing]:
    out: list[Outgoing] = []
    for topic in sorted(t for t in wanted if t.startswith(CANDLES_PREFIX + ":")):
        if not candle_topic_ok(topic):
            continue
        symbol, _, interval = topic.partition(":")[2].rpartition("_")
        time_ms = trades.get(symbol)
        if time_ms is None:
            continue
        seconds = CANDLE_TYPES[interval]
        start_s = time_ms // 1000 // seconds * seconds
        rows = exchange.candles(symbol, seconds, start_s, start_s + seconds)
        if rows:
            data = {"symbol": symbol, "candles": rows[0].row(), "time": time_ms * 1_000_000}
            out.append(Outgoing(topic, "trade.candles.update", data))
    return out
