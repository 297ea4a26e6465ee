"""Engine events -> KuCoin WebSocket messages (pure: events and the exchange in, messages out).

One drained batch becomes, per symbol, one ``/market/level2`` message whose changes are
coalesced by price (the last size wins, with its sequence; sizes are absolute, so replaying the
survivors gives the same book) and whose ``sequenceStart``/``sequenceEnd`` are the first and last
sequence of the batch; the engine bumps a symbol's sequence once per change, so consecutive
messages are contiguous and agree with the REST snapshot's ``sequence``. Futures books send one
``/contractMarket/level2`` message per change (the sequence steps by one). Private messages carry
the ``uid`` they belong to. Every spot ticker is also sent on ``/market/ticker:all`` with the
symbol as its subject. Depth-5/50 and candle topics live in :mod:`kucoin_sim.ws.derived`.

Sample (spot level2)::

    {"type":"message","topic":"/market/level2:BTC-USDT","subject":"trade.l2update",
     "data":{"changes":{"asks":[["18906","0.00331","14103845"]],"bids":[]},
     "sequenceStart":14103845,"sequenceEnd":14103845,"symbol":"BTC-USDT","time":1663747970273}}
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kucoin_sim.engine import Exchange
from kucoin_sim.engine.events import (
    BalanceEvent,
    Event,
    L2Change,
    OrderEvent,
    PositionEvent,
    TradeEvent,
)
from kucoin_sim.rest.views import num, opt


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message for the subscribers of ``topic`` (and of ``uid`` when private)."""

    topic: str
    subject: str
    data: dict[str, Any]
    uid: str | None = None

    def frame(self) -> dict[str, Any]:
        """The wire message (``channelType`` private when it belongs to a user)."""
        frame: dict[str, Any] = {
            "type": "message",
            "topic": self.topic,
            "subject": self.subject,
            "data": self.data,
        }
        if self.uid is not None:
            frame["channelType"] = "private"
            frame["userId"] = self.uid
        return frame


def messages(exchange: Exchange, events: Iterable[Event]) -> list[Outgoing]:
    """Every message the batch ``events`` produces, in the order the engine recorded them."""
    l2: dict[str, list[L2Change]] = {}
    out: list[Outgoing] = []
    touched: dict[str, int] = {}
    for event in events:
        if isinstance(event, L2Change):
            l2.setdefault(event.symbol, []).append(event)
            touched[event.symbol] = event.time_ms
        elif isinstance(event, TradeEvent):
            out.append(_match(event))
            touched[event.symbol] = event.time_ms
        else:
            out.extend(_private(exchange, event))
    for symbol, changes in l2.items():
        if symbol in exchange.contracts:
            out.extend(_futures_l2(change) for change in changes)
        else:
            out.append(_spot_l2(symbol, changes))
    for symbol, time in touched.items():
        out.extend(_tickers(exchange, symbol, time))
    return out


def _spot_l2(symbol: str, changes: list[L2Change]) -> Outgoing:
    last: dict[tuple[str, Decimal], L2Change] = {}
    for change in changes:
        last[(change.side.value, change.price)] = change
    sides: dict[str, list[list[str]]] = {"asks": [], "bids": []}
    for (side, _), change in last.items():
        row = [num(change.price), num(change.size), str(change.sequence)]
        sides["bids" if side == "buy" else "asks"].append(row)
    data = {
        "changes": sides,
        "sequenceStart": changes[0].sequence,
        "sequenceEnd": changes[-1].sequence,
        "symbol": symbol,
        "time": changes[-1].time_ms,
    }
    return Outgoing(f"/market/level2:{symbol}", "trade.l2update", data)


def _futures_l2(change: L2Change) -> Outgoing:
    data = {
        "sequence": change.sequence,
        "change": f"{num(change.price)},{change.side.value},{num(change.size)}",
        "timestamp": change.time_ms,
    }
    return Outgoing(f"/contractMarket/level2:{change.symbol}", "level2", data)


def _match(trade: TradeEvent) -> Outgoing:
    data = {
        "symbol": trade.symbol,
        "side": trade.side.value,
        "type": "match",
        "makerOrderId": trade.maker_order_id,
        "takerOrderId": trade.taker_order_id,
        "tradeId": trade.trade_id,
        "price": num(trade.price),
        "size": num(trade.size),
        "sequence": str(trade.sequence),
        "time": str(trade.time_ms * 1_000_000),
    }
    return Outgoing(f"/market/match:{trade.symbol}", "trade.l3match", data)


def _tickers(exchange: Exchange, symbol: str, time_ms: int) -> list[Outgoing]:
    """The symbol's ticker; a spot one is also sent on ``/market/ticker:all`` (subject = symbol)."""
    tick = _ticker(exchange, symbol, time_ms)
    if symbol in exchange.contracts:
        return [tick]
    return [tick, Outgoing("/market/ticker:all", symbol, tick.data)]


def _ticker(exchange: Exchange, symbol: str, time_ms: int) -> Outgoing:
    tick = exchange.ticker(symbol)
    data = {
        "sequence": str(tick.sequence),
        "price": opt(tick.price),
        "size": opt(tick.size),
        "bestBid": opt(tick.best_bid),
        "bestBidSize": opt(tick.best_bid_size),
        "bestAsk": opt(tick.best_ask),
        "bestAskSize": opt(tick.best_ask_size),
        "time": time_ms,
    }
    prefix = "/contractMarket/tickerV2" if symbol in exchange.contracts else "/market/ticker"
    return Outgoing(f"{prefix}:{symbol}", "trade.ticker", data)


def _private(exchange: Exchange, event: Event) -> list[Outgoing]:
    if isinstance(event, OrderEvent):
        return _order(exchange, event)
    if isinstance(event, BalanceEvent):
        return [_balance(event)]
    if isinstance(event, PositionEvent):
        return [_position(event)]
    return []  # pragma: no cover - every event kind is handled above


def _order(exchange: Exchange, event: OrderEvent) -> list[Outgoing]:
    order = event.order
    data: dict[str, Any] = {
        "symbol": order.symbol,
        "orderType": order.type.value,
        "side": order.side.value,
        "orderId": order.id,
        "type": event.type.value,
        "orderTime": order.created_at_ms * 1_000_000,
        "size": opt(order.size),
        "filledSize": num(order.deal_size),
        "price": opt(order.price),
        "clientOid": order.client_oid or "",
        "remainSize": num(order.remaining),
        "status": "match" if event.type.value == "match" else order.status.value,
        "ts": event.time_ms * 1_000_000,
    }
    if event.match_price is not None:
        data["matchPrice"] = num(event.match_price)
        data["matchSize"] = num(event.match_size)
        data["tradeId"] = event.trade_id
        data["liquidity"] = event.liquidity.value if event.liquidity else None
    if event.old_size is not None:
        data["oldSize"] = num(event.old_size)
    if order.symbol in exchange.contracts:
        return [Outgoing("/contractMarket/tradeOrders", "orderChange", data, order.uid)]
    return [
        Outgoing("/spotMarket/tradeOrdersV2", "orderChange", data, order.uid),
        Outgoing("/spotMarket/tradeOrders", "orderChange", data, order.uid),
    ]


def _balance(event: BalanceEvent) -> Outgoing:
    data = {
        "accountId": event.account_id,
        "currency": event.currency,
        "total": num(event.total),
        "available": num(event.available),
        "hold": num(event.hold),
        "availableChange": num(event.available_change),
        "holdChange": num(event.hold_change),
        "relationEvent": event.relation_event,
        "relationEventId": event.relation_event_id,
        "time": str(event.time_ms),
    }
    return Outgoing("/account/balance", "account.balance", data, event.uid)


def _position(event: PositionEvent) -> Outgoing:
    data = {
        "symbol": event.symbol,
        "currentQty": num(event.current_qty),
        "avgEntryPrice": num(event.avg_entry_price),
        "posMargin": num(event.pos_margin),
        "realisedPnl": num(event.realised_pnl),
        "realLeverage": num(event.leverage),
        "currentTimestamp": event.time_ms,
    }
    return Outgoing(f"/contract/position:{event.symbol}", "position.change", data, event.uid)
