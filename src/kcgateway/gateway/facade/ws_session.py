"""KuCoin's private WebSocket protocol, server side, sans I/O: frames in, frames out.

A :class:`PrivateSession` is one connection of the facade's private WebSocket (PROTOCOL.md
section 7). :meth:`~PrivateSession.welcome` is the first frame; :meth:`~PrivateSession.receive`
answers each uplink frame (``ping`` -> ``pong`` with the same id; ``subscribe`` /
``unsubscribe`` -> ``ack`` when ``response`` is true, or an ``error`` frame); and
:meth:`~PrivateSession.relay` turns one gateway event (``gateway/event_feed.py``) into the
KuCoin messages of the topics the client holds:

- ``order.state`` (``acked`` or ``open``, whichever comes first: ``open``; ``filled``;
  ``cancelled``: ``canceled``) and ``order.fill`` (``match``) -> ``/spotMarket/tradeOrdersV2``
  and ``/spotMarket/tradeOrders`` (subject ``orderChange``), e.g.::

    {"type":"message","topic":"/spotMarket/tradeOrdersV2","subject":"orderChange",
     "channelType":"private","data":{"symbol":"BTC-USDT","orderType":"limit","side":"buy",
     "orderId":"6720...","clientOid":"c1","type":"open","status":"open","price":"30000",
     "size":"0.001","filledSize":"0","remainSize":"0.001","orderTime":1733100000000,
     "ts":1733100000000000000}}

- ``balance`` -> ``/account/balance`` (subject ``account.balance``);
- futures intents and fills -> ``/contractMarket/tradeOrders`` (subject ``orderChange``,
  ``orderTime`` in ns as KuCoin's futures host sends it); after a futures fill (or ``filled``)
  the session asks its pump (:meth:`PrivateSession.refresh`) to re-read the position and the
  futures wallet from the exchange, for ``/contract/position:{symbol}`` and
  ``/contractAccount/wallet`` (``ws_futures.py``: the gateway's event log carries neither).

Each event maps to at most one message per subscribed topic, so a client sees each change
once. The session never sees another account's events: the caller filters by account.
Invariants: nothing is relayed for a topic the client does not hold; times come from the events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from kcgateway.gateway.event_feed import EventKind, StoredEvent
from kcgateway.gateway.facade.ws_futures import (
    FUTURES_ORDERS,
    POSITION,
    WALLET,
    Refresh,
    message,
    position_message,
    position_topic,
    wallet_message,
)

ORDERS_V2 = "/spotMarket/tradeOrdersV2"
ORDERS_V1 = "/spotMarket/tradeOrders"
BALANCE = "/account/balance"
TOPICS = frozenset({ORDERS_V2, ORDERS_V1, BALANCE, FUTURES_ORDERS, WALLET})
FUTURES = "futures"
#: gateway intent state -> KuCoin's (type, status). The exchange accepting the order (acked)
#: is its ``open`` [?]: the gateway moves acked -> open only when the exchange's own private
#: stream says so, and a client must not wait for that; the later ``open`` is then not repeated
_STATES = {
    "acked": ("open", "open"),
    "open": ("open", "open"),
    "filled": ("filled", "done"),
    "cancelled": ("canceled", "done"),
}
Frame = dict[str, Any]
#: how long a ``filled`` waits for its closing match before it goes out anyway
HOLD_MS = 2_000


def _dec(value: object) -> Decimal | None:
    try:
        return None if value is None else Decimal(str(value))
    except InvalidOperation:
        return None


@dataclass
class PrivateSession:
    """One private connection: its connect id, its topics, the fills it has seen per order."""

    connect_id: str
    topics: set[str] = field(default_factory=set)
    #: filled size per exchange order id, from the ``match`` messages relayed so far
    filled: dict[str, Decimal] = field(default_factory=dict)
    #: exchange order ids whose ``open`` was relayed and that are not done yet
    opened: set[str] = field(default_factory=set)
    #: ``filled`` messages (and their event time, ms) waiting for the match that closes the
    #: order: KuCoin sends the match first, while the gateway may learn ``filled`` first (from
    #: the order's REST answer or a reconciliation)
    held: dict[str, tuple[int, Frame, str]] = field(default_factory=dict)
    #: the last position / wallet figures sent per topic (a re-read that changed nothing is
    #: not sent again: each change once)
    sent: dict[str, tuple[object, ...]] = field(default_factory=dict)

    def welcome(self) -> Frame:
        """The first frame of the connection."""
        return {"id": self.connect_id, "type": "welcome"}

    def receive(self, frame: object) -> list[Frame]:
        """The answers to one uplink frame (already parsed JSON)."""
        if not isinstance(frame, dict):
            return []
        request_id = str(frame.get("id", ""))
        kind = frame.get("type")
        if kind == "ping":
            return [{"id": request_id, "type": "pong"}]
        if kind not in ("subscribe", "unsubscribe"):
            return [_error(request_id, 415, "type is not supported")]
        topics = [t.strip() for t in str(frame.get("topic") or "").split(",") if t.strip()]
        if not topics:
            return [_error(request_id, 406, "topic is required")]
        unknown = [t for t in topics if t not in TOPICS and position_topic(t) is None]
        if unknown:
            return [_error(request_id, 404, f"topic {unknown[0][:100]} is not found")]
        if kind == "subscribe":
            self.topics.update(topics)
        else:
            self.topics.difference_update(topics)
        return [{"id": request_id, "type": "ack"}] if frame.get("response") else []

    def relay(self, event: StoredEvent) -> list[Frame]:
        """The KuCoin messages of ``event`` for the topics held now."""
        if event.kind == EventKind.BALANCE:
            return self._balance(event)
        if event.kind == EventKind.ORDER:
            data = self._order(event)
        elif event.kind == EventKind.FILL:
            data = self._fill(event)
        else:
            return []
        return self._out(data, _market(event))

    def refresh(self, event: StoredEvent) -> Refresh | None:
        """What to re-read from the exchange after ``event`` for the futures topics held."""
        d = event.data
        if _market(event) != FUTURES or not d.get("symbol"):
            return None
        changed = event.kind == EventKind.FILL or d.get("state") == "filled"
        symbol = str(d["symbol"])
        position = changed and POSITION + symbol in self.topics
        wallet = WALLET in self.topics and event.kind in (EventKind.FILL, EventKind.ORDER)
        if not position and not wallet:
            return None
        return Refresh(symbol, position=position, wallet=wallet)

    def position(self, symbol: str, data: Frame) -> list[Frame]:
        """``/contract/position:{symbol}``'s message for a re-read position, if it changed."""
        return self._changed(POSITION + symbol, position_message(symbol, data))

    def wallet(self, data: Frame, now_ms: int) -> list[Frame]:
        """``/contractAccount/wallet``'s message for a re-read account overview, if it changed."""
        return self._changed(WALLET, wallet_message(data, now_ms))

    def _changed(self, topic: str, made: tuple[tuple[object, ...], Frame] | None) -> list[Frame]:
        if made is None or topic not in self.topics or self.sent.get(topic) == made[0]:
            return []
        self.sent[topic] = made[0]
        return [made[1]]

    def expire(self, now_ms: int) -> list[Frame]:
        """The held ``filled`` messages older than :data:`HOLD_MS`: their fills are not coming."""
        due = [k for k, (ms, _, _) in self.held.items() if ms <= now_ms - HOLD_MS]
        out: list[Frame] = []
        for key in due:
            _, data, market = self.held.pop(key)
            out += self._out([data], market)
        return out

    def _out(self, datas: list[Frame], market: str) -> list[Frame]:
        names = (FUTURES_ORDERS,) if market == FUTURES else (ORDERS_V2, ORDERS_V1)
        wanted = [t for t in names if t in self.topics]
        return [message(t, "orderChange", data) for data in datas for t in wanted]

    def _order(self, event: StoredEvent) -> list[Frame]:
        d = event.data
        if d.get("market") not in (None, "spot", FUTURES):
            return []
        mapped = _STATES.get(str(d.get("state")))
        if mapped is None:
            return []
        order_id = str(d.get("exchangeOrderId") or d.get("orderId") or "")
        done = mapped[0] in ("filled", "canceled")
        if not done and order_id in self.opened:
            return []
        size = _dec(d.get("size"))
        relayed = self.filled.get(order_id, Decimal(0))
        filled = (size or Decimal(0)) if mapped[0] == "filled" else self.filled.get(order_id)
        filled = filled or Decimal(0)
        remain = Decimal(0) if done or size is None else max(size - filled, Decimal(0))
        data = _common(event, order_id) | {"type": mapped[0], "status": mapped[1]}
        data |= {"orderType": d.get("type"), "side": d.get("side"), "symbol": d.get("symbol")}
        data |= {"clientOid": d.get("clientOid"), "filledSize": str(filled)}
        data |= {"remainSize": str(remain)}
        if size is not None:
            data |= {"size": str(size), "originSize": str(size)}
        if mapped[0] == "canceled" and size is not None:
            data["canceledSize"] = str(max(size - filled, Decimal(0)))
        for name in ("price", "funds"):
            if d.get(name) is not None:
                data[name] = str(d[name])
        if done:
            self.filled.pop(order_id, None)
            self.opened.discard(order_id)
        else:
            self.opened.add(order_id)
        if mapped[0] == "filled" and size is not None and relayed < size:
            held = (_ms(event), data, _market(event))
            self.held[order_id] = held  # its closing match comes first
            return []
        return [data]

    def _fill(self, event: StoredEvent) -> list[Frame]:
        d = event.data
        order_id = str(d.get("exchangeOrderId") or "")
        filled = _dec(d.get("filledSize"))
        if not order_id or filled is None:
            return []
        self.filled[order_id] = filled
        data = _common(event, order_id) | {"type": "match", "status": "match"}
        data |= {"symbol": d.get("symbol"), "side": d.get("side"), "clientOid": d.get("clientOid")}
        data |= {"filledSize": str(filled), "remainSize": str(d.get("remainSize") or "0")}
        data |= {"matchPrice": d.get("price"), "matchSize": d.get("size")}
        data["tradeId"] = d.get("tradeId")
        out = [{k: v for k, v in data.items() if v is not None}]
        if order_id in self.held and _dec(d.get("remainSize")) == 0:
            out.append(self.held.pop(order_id)[1])  # same order, same market
            self.filled.pop(order_id, None)
        return out

    def _balance(self, event: StoredEvent) -> list[Frame]:
        if BALANCE not in self.topics:
            return []
        names = ("currency", "total", "available", "hold", "availableChange", "holdChange")
        data: Frame = {n: event.data.get(n) for n in names}
        data["relationEvent"] = event.data.get("relationEvent")
        data["time"] = str(_ms(event))
        return [message(BALANCE, "account.balance", data)]


def _ms(event: StoredEvent) -> int:
    return int(event.created_at.timestamp() * 1000)


def _market(event: StoredEvent) -> str:
    return FUTURES if event.data.get("market") == FUTURES else "spot"


def _common(event: StoredEvent, order_id: str) -> Frame:
    ms = _ms(event)
    # KuCoin's futures host sends orderTime in ns (ccxt reads it so for contracts)
    order_time = ms * 1_000_000 if _market(event) == FUTURES else ms
    return {"orderId": order_id, "orderTime": order_time, "ts": ms * 1_000_000}


def _error(request_id: str, code: int, text: str) -> Frame:
    return {"id": request_id, "type": "error", "code": code, "data": text}
