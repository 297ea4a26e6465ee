"""Sans-I/O KuCoin WebSocket session: frames in, events and frames-to-send out. Pure.

The pump (``exchange/ws.py``) owns the socket and the clock. It feeds every received frame to
:meth:`WsSession.receive_frame` with ``now`` (ms), sends what :meth:`WsSession.subscribe`,
:meth:`WsSession.unsubscribe` and :meth:`WsSession.next_actions` return, and calls
``next_actions`` again no later than :meth:`WsSession.next_deadline`.

Protocol (PROTOCOL.md section 7): the server greets with ``{"id": .., "type": "welcome"}``; the
client pings ``{"id": .., "type": "ping"}`` every ``pingInterval`` ms and expects a ``pong``
with the same id within ``pingTimeout`` ms; subscriptions are
``{"id", "type": "subscribe"|"unsubscribe", "topic", "privateChannel", "response": true}``,
answered by ``ack`` or ``error`` with the same id. Limits: at most 100 topics per subscribe
message, 300 topics per connection and 100 uplink messages per 10 s (every symbol in a topic
counts as one topic).

States (:class:`SessionState`) and invariants:

- ``CONNECTING``: no welcome yet; nothing is sent; at ``opened + welcome_timeout`` the session
  closes ("welcome timeout").
- ``OPEN``: welcomed; at most one ping is outstanding; ``next_ping`` is set; every frame sent in
  the last 10 s is counted and never more than ``uplink_limit`` of them (requests may use all
  but one slot, kept for the ping: with KuCoin's pingInterval of 18 s at most one ping falls
  in any 10 s window); frames over budget wait in a queue, in order;
  ``len(topics) + pending subscriptions <= max_topics``.
- ``CLOSED``: terminal; nothing more is sent; the pump closes the socket and opens a new session
  (resubscribing from :attr:`WsSession.topics`).
"""

from __future__ import annotations

import enum
import json
from collections import deque
from dataclasses import dataclass

import msgspec

from kcgateway.errors import ProtocolError, ValidationError

__all__ = [
    "Acked",
    "Close",
    "Closed",
    "DataMessage",
    "Event",
    "Pong",
    "SendFrame",
    "ServerError",
    "SessionAction",
    "SessionState",
    "SubscribeFailed",
    "Welcomed",
    "WsSession",
]

MAX_TOPICS_PER_REQUEST = 100
MAX_TOPICS_PER_CONNECTION = 300
UPLINK_LIMIT = 100
UPLINK_WINDOW_MS = 10_000
WELCOME_TIMEOUT_MS = 5_000


class SessionState(enum.Enum):
    """Lifecycle of one connection; see the module docstring for each state's invariants."""

    CONNECTING = "connecting"
    OPEN = "open"
    CLOSED = "closed"


# --- events (what happened) -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Welcomed:
    """The server said welcome: the session is usable."""

    connect_id: str


@dataclass(frozen=True, slots=True)
class Pong:
    """The outstanding ping was answered after ``rtt_ms``."""

    rtt_ms: int


@dataclass(frozen=True, slots=True)
class Acked:
    """A subscribe or unsubscribe request was acknowledged; ``topics`` are now (un)subscribed."""

    request_id: str
    kind: str
    topics: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SubscribeFailed:
    """The server refused a request (``code`` e.g. 404 topic not found, 509 over a limit)."""

    request_id: str
    topics: tuple[str, ...]
    code: int
    message: str


@dataclass(frozen=True, slots=True)
class ServerError:
    """An error frame that answers no request of ours (e.g. 401 token invalid)."""

    code: int
    message: str


@dataclass(frozen=True, slots=True)
class DataMessage:
    """A ``message`` frame. ``data`` is the raw JSON of its data object, decoded by its consumer.

    Sample: ``{"type":"message","topic":"/market/ticker:BTC-USDT","subject":"trade.ticker",
    "data":{"sequence":"1545896668986","price":"0.08","size":"0.011","bestAsk":"0.08",...}}``
    """

    topic: str
    subject: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Closed:
    """The session gave up (``reason``: welcome timeout, pong timeout); reconnect."""

    reason: str


Event = Welcomed | Pong | Acked | SubscribeFailed | ServerError | DataMessage | Closed


# --- actions (what to do) ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendFrame:
    """Send ``frame`` (JSON text) on the socket."""

    frame: str


@dataclass(frozen=True, slots=True)
class Close:
    """Close the socket: the session is over (``reason`` says why)."""

    reason: str


SessionAction = SendFrame | Close


class _Envelope(msgspec.Struct):
    type: str
    id: str | int | None = None
    topic: str = ""
    subject: str = ""
    code: int | str | None = None
    data: msgspec.Raw = msgspec.Raw(b"null")


_decoder = msgspec.json.Decoder(_Envelope)


@dataclass(slots=True)
class _Pending:
    kind: str
    topics: tuple[str, ...]


def topic_keys(topic: str) -> tuple[str, ...]:
    """One key per counted topic: ``/market/level2:A,B`` -> ``/market/level2:A``, ``..:B``."""
    prefix, sep, symbols = topic.partition(":")
    if not sep:
        return (topic,)
    return tuple(f"{prefix}:{symbol}" for symbol in symbols.split(",") if symbol)


class WsSession:
    """One KuCoin WebSocket connection's protocol state (see the module docstring)."""

    def __init__(
        self,
        *,
        now: int,
        ping_interval_ms: int,
        ping_timeout_ms: int,
        private: bool = False,
        welcome_timeout_ms: int = WELCOME_TIMEOUT_MS,
        uplink_limit: int = UPLINK_LIMIT,
        max_topics: int = MAX_TOPICS_PER_CONNECTION,
    ) -> None:
        self.state = SessionState.CONNECTING
        self.private = private
        self.topics: set[str] = set()
        self._opened = now
        self._ping_interval = ping_interval_ms
        self._ping_timeout = ping_timeout_ms
        self._welcome_timeout = welcome_timeout_ms
        self._uplink_limit = uplink_limit
        self._max_topics = max_topics
        self._sent: deque[int] = deque()
        self._queue: deque[str] = deque()
        self._pending: dict[str, _Pending] = {}
        self._next_id = 0
        self._next_ping: int | None = None
        self._ping: tuple[str, int] | None = None

    # -- receiving ------------------------------------------------------------------------------

    def receive_frame(self, frame: bytes | str, now: int) -> list[Event]:
        """Interpret one received frame."""
        try:
            env = _decoder.decode(frame)
        except msgspec.DecodeError as exc:
            raise ProtocolError(f"websocket frame: {exc}") from None
        if env.type == "message":
            return [DataMessage(env.topic, env.subject, bytes(env.data))]
        handler = _HANDLERS.get(env.type)
        if handler is None:
            return []  # notice, command and future types: nothing to do
        return handler(self, env, now)

    def _on_welcome(self, env: _Envelope, now: int) -> list[Event]:
        if self.state is not SessionState.CONNECTING:
            return []
        self.state = SessionState.OPEN
        self._next_ping = now + self._ping_interval
        return [Welcomed(str(env.id))]

    def _on_pong(self, env: _Envelope, now: int) -> list[Event]:
        if self._ping is None or str(env.id) != self._ping[0]:
            return []
        rtt = now - self._ping[1]
        self._ping = None
        return [Pong(rtt)]

    def _on_ack(self, env: _Envelope, now: int) -> list[Event]:
        request_id = str(env.id)
        pending = self._pending.pop(request_id, None)
        if pending is None:
            return []
        if pending.kind == "unsubscribe":
            self.topics.difference_update(pending.topics)
        else:
            self.topics.update(pending.topics)
        return [Acked(request_id, pending.kind, pending.topics)]

    def _on_error(self, env: _Envelope, now: int) -> list[Event]:
        code = _code(env.code)
        message = _text(env.data)
        pending = self._pending.pop(str(env.id), None)
        if pending is None:
            return [ServerError(code, message)]
        return [SubscribeFailed(str(env.id), pending.topics, code, message)]

    # -- sending --------------------------------------------------------------------------------

    def subscribe(self, topic: str, now: int) -> list[SessionAction]:
        """Subscribe to ``topic`` (``prefix:SYM1,SYM2,...``), split into batches of 100 topics.

        Topics already subscribed or pending are left out. Raises ValidationError past the
        connection's 300-topic cap: open another connection for the rest.
        """
        return self._request("subscribe", topic, now)

    def unsubscribe(self, topic: str, now: int) -> list[SessionAction]:
        """Unsubscribe from the subscribed topics among ``topic``'s symbols."""
        return self._request("unsubscribe", topic, now)

    def _request(self, kind: str, topic: str, now: int) -> list[SessionAction]:
        if self.state is SessionState.CLOSED:
            raise ValidationError("the session is closed: open a new connection")
        keys = self._select(kind, topic_keys(topic))
        frames = []
        for start in range(0, len(keys), MAX_TOPICS_PER_REQUEST):
            batch = keys[start : start + MAX_TOPICS_PER_REQUEST]
            request_id = self._new_id()
            self._pending[request_id] = _Pending(kind, batch)
            frames.append(self._request_frame(request_id, kind, batch))
        self._queue.extend(frames)
        return self.next_actions(now)

    def _select(self, kind: str, keys: tuple[str, ...]) -> tuple[str, ...]:
        pending = {key for request in self._pending.values() for key in request.topics}
        if kind == "unsubscribe":
            return tuple(key for key in keys if key in self.topics)
        new = tuple(dict.fromkeys(key for key in keys if key not in self.topics | pending))
        total = len(self.topics) + len(pending) + len(new)
        if total > self._max_topics:
            raise ValidationError(
                f"{total} topics on one connection; the limit is {self._max_topics}: "
                "spread the symbols over another connection",
                field="topic",
            )
        return new

    def _request_frame(self, request_id: str, kind: str, keys: tuple[str, ...]) -> str:
        prefix = keys[0].partition(":")[0]
        symbols = ",".join(key.partition(":")[2] for key in keys)
        topic = f"{prefix}:{symbols}" if symbols else prefix
        return json.dumps(
            {
                "id": request_id,
                "type": kind,
                "topic": topic,
                "privateChannel": self.private,
                "response": True,
            },
            separators=(",", ":"),
        )

    def _new_id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    # -- time -----------------------------------------------------------------------------------

    def next_actions(self, now: int) -> list[SessionAction]:
        """Frames due now (ping, queued requests within the uplink budget) or a Close."""
        if self.state is SessionState.CLOSED:
            return []
        if self.state is SessionState.CONNECTING:
            if now - self._opened >= self._welcome_timeout:
                return self._close("welcome timeout")
            return []
        if self._ping is not None and now - self._ping[1] >= self._ping_timeout:
            return self._close("pong timeout")
        actions: list[SessionAction] = []
        self._expire_uplink(now)
        if self._ping is None and self._next_ping is not None and now >= self._next_ping:
            actions.append(self._send_ping(now))
        while self._queue and len(self._sent) < self._uplink_limit - 1:  # one slot for a ping
            self._sent.append(now)
            actions.append(SendFrame(self._queue.popleft()))
        return actions

    def next_deadline(self) -> int | None:
        """When :meth:`next_actions` must be called next (ms), or None when closed."""
        if self.state is SessionState.CLOSED:
            return None
        if self.state is SessionState.CONNECTING:
            return self._opened + self._welcome_timeout
        deadlines = [self._ping[1] + self._ping_timeout] if self._ping else []
        if self._ping is None and self._next_ping is not None:
            deadlines.append(self._next_ping)
        if self._queue and self._sent:
            deadlines.append(self._sent[0] + UPLINK_WINDOW_MS)
        return min(deadlines, default=None)

    def close(self) -> list[SessionAction]:
        """Close the session on our side."""
        if self.state is SessionState.CLOSED:
            return []
        return self._close("closed by client")

    def _close(self, reason: str) -> list[SessionAction]:
        self.state = SessionState.CLOSED
        self._queue.clear()
        return [Close(reason)]

    def _send_ping(self, now: int) -> SendFrame:
        ping_id = "ping-" + self._new_id()
        self._ping = (ping_id, now)
        self._next_ping = now + self._ping_interval
        self._sent.append(now)
        return SendFrame(json.dumps({"id": ping_id, "type": "ping"}, separators=(",", ":")))

    def _expire_uplink(self, now: int) -> None:
        sent = self._sent
        while sent and sent[0] <= now - UPLINK_WINDOW_MS:
            sent.popleft()


def _code(value: int | str | None) -> int:
    if isinstance(value, int):
        return value
    return int(value) if value is not None and value.isdigit() else 0


def _text(raw: msgspec.Raw) -> str:
    value = msgspec.json.decode(raw)
    return value if isinstance(value, str) else json.dumps(value)


_HANDLERS = {
    "welcome": WsSession._on_welcome,
    "pong": WsSession._on_pong,
    "ack": WsSession._on_ack,
    "error": WsSession._on_error,
}
