"""The spot market snapshot topics (pure: ``now`` is passed in).

``/market/snapshot:{symbol}`` and ``/market/snapshot:{market}`` (subject ``trade.snapshot``)
push a symbol's 24 h statistics every :data:`SNAPSHOT_PERIOD_MS` (KuCoin: 2 s). A market topic
names a market (``USDS``, ``BTC``, ...) or a currency and covers every symbol whose market, base
or quote it is (KuCoin's ``/market/snapshot:BTC`` carries BTC-USDT too, whose market is USDS);
it sends one message per symbol, each with ``data.data`` one object, as KuCoin does. The
numbers are JSON numbers, not strings (encode with ``decimal_format="number"``). Sample::

    {"type":"message","topic":"/market/snapshot:BTC-USDT","subject":"trade.snapshot",
     "data":{"sequence":"1545896669291","data":{"averagePrice":21736.7,"baseCurrency":"BTC",
       "bidSize":0.5,"askSize":0.4,"board":0,"buy":21423,"changePrice":-556.8,
       "changeRate":-0.0253,"close":21423.1,"datetime":1676310802092,"high":22030.7,
       "lastTradedPrice":21423.1,"low":21407,"makerCoefficient":1,"makerFeeRate":0.001,
       "marginTrade":true,"mark":0,"market":"USDS","markets":["USDS"],"open":21979.9,
       "quoteCurrency":"USDT","sell":21423.1,"sort":100,"symbol":"BTC-USDT",
       "symbolCode":"BTC-USDT","takerCoefficient":1,"takerFeeRate":0.001,"trading":true,
       "vol":6179.8,"volValue":133988049.4}}}
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from kucoin_sim.engine import Exchange, SymbolSpec
from kucoin_sim.rest.market import symbol_view
from kucoin_sim.ws.feeds import Outgoing

SNAPSHOT_PREFIX = "/market/snapshot"
SNAPSHOT_PERIOD_MS = 2000


def market_of(spec: SymbolSpec) -> str:
    """The symbol's ``market`` as ``/api/v2/symbols`` reports it."""
    return str(symbol_view(spec)["market"])


def covered(exchange: Exchange, target: str) -> list[SymbolSpec]:
    """The symbols a snapshot topic's target (a symbol, market or currency) covers."""
    spec = exchange.symbols.get(target)
    if spec is not None:
        return [spec]
    return [s for s in exchange.symbols.values() if target in (market_of(s), s.base, s.quote)]


def snapshot_topic_ok(exchange: Exchange, key: str) -> bool:
    """``/market/snapshot:X`` names a known symbol, market or currency."""
    return bool(covered(exchange, key.partition(":")[2]))


def snapshot_data(exchange: Exchange, spec: SymbolSpec, now_ms: int) -> dict[str, Any]:
    """The ``data`` of one ``trade.snapshot`` message: ``{sequence, data: {...}}``."""
    tick = exchange.ticker(spec.symbol)
    stats = exchange.stats_24h(spec.symbol, now_ms)
    last = stats.last if stats.last is not None else tick.price
    market = market_of(spec)
    average = stats.turnover / stats.volume if stats.volume else last
    body: dict[str, Decimal | str | int | bool | list[str] | None] = {
        "askSize": tick.best_ask_size,
        "averagePrice": average,
        "baseCurrency": spec.base,
        "bidSize": tick.best_bid_size,
        "board": 0,
        "buy": tick.best_bid,
        "changePrice": stats.change_price,
        "changeRate": stats.change_rate,
        "close": last,
        "datetime": now_ms,
        "high": stats.high,
        "lastTradedPrice": last,
        "low": stats.low,
        "makerCoefficient": 1,
        "makerFeeRate": spec.maker_fee_rate,
        "marginTrade": True,
        "mark": 0,
        "market": market,
        "markets": [market],
        "open": stats.open,
        "quoteCurrency": spec.quote,
        "sell": tick.best_ask,
        "sort": 100,
        "symbol": spec.symbol,
        "symbolCode": spec.symbol,
        "takerCoefficient": 1,
        "takerFeeRate": spec.taker_fee_rate,
        "trading": spec.enable_trading,
        "vol": stats.volume,
        "volValue": stats.turnover,
    }
    return {"sequence": str(tick.sequence), "data": body}


@dataclass
class SnapshotFeeds:
    """When each subscribed snapshot topic was last sent."""

    period_ms: int = SNAPSHOT_PERIOD_MS
    sent_ms: dict[str, int] = field(default_factory=dict)

    def due(self, now_ms: int, topics: Iterable[str]) -> list[str]:
        """The subscribed snapshot topics whose period is up (never sent: due at once)."""
        out = []
        for topic in topics:
            if not topic.startswith(SNAPSHOT_PREFIX + ":"):
                continue
            last = self.sent_ms.get(topic)
            if last is None or now_ms - last >= self.period_ms:
                out.append(topic)
        return sorted(out)

    def messages(self, exchange: Exchange, now_ms: int, topics: Iterable[str]) -> list[Outgoing]:
        """One message per covered symbol of every due topic."""
        out: list[Outgoing] = []
        for topic in self.due(now_ms, topics):
            self.sent_ms[topic] = now_ms
            for spec in covered(exchange, topic.partition(":")[2]):
                data = snapshot_data(exchange, spec, now_ms)
                out.append(Outgoing(topic, "trade.snapshot", data))
        return out
