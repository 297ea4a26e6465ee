"""The simulator's WebSocket server: ``GET /endpoint?token=..&connectId=..`` on both hosts.

Protocol (PROTOCOL.md section 7): ``welcome`` on connect; ``ping`` -> ``pong`` with the same
id; ``subscribe``/``unsubscribe`` -> ``ack`` (when ``response`` is true) or ``error``. Limits,
each refused with an ``error`` frame of code 509: more than 100 topics in one request, more than
300 topics on one connection, more than 100 uplink messages in 10 s (the connection is then
closed), more than 50 connections per user. A bad or expired token gets error 401 and a close;
a connection silent for ``pingInterval + pingTimeout`` is closed (idle timeout).

One pump task drains the engine's outbox every ``period_ms`` and fans the messages out to the
subscribers of each topic (private ones only to their uid); the depth-5/50 and candle topics
come from :class:`~kucoin_sim.ws.derived.DerivedFeeds` (a pending throttled depth change is
sent by a later pump even when the engine has nothing new). Faults (:class:`WsFaults`): drop
every connection, skip the next n messages of a topic, duplicate or delay (send after the next
one) the next n messages of a topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import WSMsgType, web

from kucoin_sim.ws.derived import CANDLES_PREFIX, DEPTHS, DerivedFeeds, candle_topic_ok
from kucoin_sim.ws.feeds import Outgoing, messages
from kucoin_sim.ws.snapshot import SNAPSHOT_PREFIX, SnapshotFeeds, snapshot_topic_ok
from kucoin_sim.ws.tokens import Grant

if TYPE_CHECKING:
    from kucoin_sim.state import SimState

log = logging.getLogger("kucoin_sim.ws")

MAX_TOPICS_PER_REQUEST = 100
MAX_TOPICS_PER_CONNECTION = 300
UPLINK_LIMIT = 100
UPLINK_WINDOW_MS = 10_000
MAX_CONNECTIONS_PER_USER = 50
#: Frames one connection may fall behind before it is dropped (``Hub(send_buffer=)``).
DEFAULT_SEND_BUFFER = 10_000
PUBLIC_PREFIXES = (
    "/market/level2",
    "/market/ticker",
    "/market/match",
    "/contractMarket/level2",
    "/contractMarket/tickerV2",
    CANDLES_PREFIX,
    SNAPSHOT_PREFIX,
    *DEPTHS,
)
#: feed frames: Decimal values (the snapshot topics) become JSON numbers, exactly
_ENCODER = msgspec.json.Encoder(decimal_format="number")
PRIVATE_TOPICS = (
    "/spotMarket/tradeOrdersV2",
    "/spotMarket/tradeOrders",
    "/account/balance",
    "/contractMarket/tradeOrders",
    "/contract/position",
)


@dataclass
class TopicFault:
    """What to do with the next ``count`` messages of one topic: skip, duplicate or delay."""

    kind: str
    count: int
    held: list[str] = field(default_factory=list)


@dataclass
class WsFaults:
    """Faults armed through the control API (``POST /_sim/ws/faults``)."""

    topics: dict[str, TopicFault] = field(default_factory=dict)

    def arm(self, topic: str, kind: str, count: int) -> None:
        """Skip, duplicate or delay the next ``count`` messages of ``topic``."""
        if kind not in ("skip", "duplicate", "delay"):
            raise ValueError(f"unknown websocket fault kind {kind!r}")
        self.topics[topic] = TopicFault(kind, count)

    def apply(self, topic: str, frame: str) -> list[str]:
        """The frames to send instead of ``frame`` (none, two, or held ones later)."""
        fault = self.topics.get(topic)
        if fault is None or fault.count <= 0:
            if fault is not None and fault.held:
                held, fault.held = fault.held, []
                del self.topics[topic]
                return [frame, *held]
            return [frame]
        fault.count -= 1
        if fault.kind == "skip":
            return []
        if fault.kind == "duplicate":
            return [frame, frame]
        fault.held.append(frame)
        return []


class Connection:
    """One client connection: its grant, subscriptions, uplink budget and send buffer.

    Every downlink frame goes through :meth:`offer` into a bounded queue that this connection's
    own writer task drains, so a client that reads slowly (or not at all) only ever blocks its
    own writer. When the queue is full the client has fallen ``buffer`` frames behind: it is
    dropped (:meth:`abort`), as KuCoin drops consumers that cannot keep up, and nobody else
    waits for it.
    """

    def __init__(
        self,
        ws: web.WebSocketResponse,
        grant: Grant,
        connect_id: str,
        *,
        buffer: int = DEFAULT_SEND_BUFFER,
        transport: asyncio.Transport | None = None,
    ) -> None:
        self.ws = ws
        self.grant = grant
        self.connect_id = connect_id
        self.topics: set[str] = set()
        self.uplink: deque[int] = deque()
        self.last_seen_ms = 0
        self.slow = False
        self._transport = transport
        self._queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=buffer)
        self._writer: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the writer task (before the first :meth:`offer`)."""
        self._writer = asyncio.get_running_loop().create_task(self._write())

    def offer(self, frame: dict[str, Any] | str) -> bool:
        """Queue one frame without waiting; a full queue drops the connection (False)."""
        if self.slow:
            return False
        text = frame if isinstance(frame, str) else json.dumps(frame, separators=(",", ":"))
        try:
            self._queue.put_nowait(text)
        except asyncio.QueueFull:
            self.abort()
            return False
        return True

    async def send(self, frame: dict[str, Any] | str) -> None:
        """Queue one frame (kept async for callers that await a send)."""
        self.offer(frame)

    async def close(self, timeout_s: float = 5.0) -> None:
        """Send what is queued, then a close frame; a client that cannot take them is dropped."""
        if self.slow:
            return
        try:
            self._queue.put_nowait(None)
        except asyncio.QueueFull:
            self.abort()
            return
        writer = self._writer
        if writer is not None and writer is not asyncio.current_task():
            done, _ = await asyncio.wait({writer}, timeout=timeout_s)
            if not done:
                self.abort()

    def abort(self) -> None:
        """Drop the connection now: stop the writer, close the socket without a handshake."""
        self.slow = True
        if self._writer is not None:
            self._writer.cancel()
        if self._transport is not None:
            self._transport.abort()

    async def stop(self) -> None:
        """Stop the writer task (the connection is gone)."""
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer

    async def _write(self) -> None:
        while True:
            text = await self._queue.get()
            if text is None:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await self.ws.close()
                return
            try:
                await self.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return  # the socket is closing; the reader notices and cleans up


def topic_keys(topic: str) -> list[str]:
    """``/market/level2:A,B`` -> ``[/market/level2:A, /market/level2:B]`` (each counts as one)."""
    prefix, sep, symbols = topic.partition(":")
    if not sep:
        return [topic]
    return [f"{prefix}:{s}" for s in symbols.split(",") if s]


class Hub:
    """Connections and subscriptions of one simulator (both hosts), plus the pump."""

    def __init__(
        self, state: SimState, *, period_ms: int = 20, send_buffer: int = DEFAULT_SEND_BUFFER
    ) -> None:
        self.state = state
        self.period_ms = period_ms
        self.send_buffer = send_buffer
        #: connections dropped because they fell ``send_buffer`` frames behind
        self.dropped_slow = 0
        self.connections: set[Connection] = set()
        self.subscribers: dict[str, set[Connection]] = {}
        self.faults = WsFaults()
        self.derived = DerivedFeeds()
        self.snapshots = SnapshotFeeds()
        self.sent = 0
        self.record: list[Outgoing] | None = None  # tests set a list to see every message
        #: True: the background pump skips its turns (a test drives :meth:`pump_once` itself)
        self.paused = False
        self._pump: asyncio.Task[None] | None = None
        self._users: Counter[str] = Counter()
        self._refs = 0

    # -- lifecycle -----------------------------------------------------------------------------

    def context(self) -> Callable[[web.Application], AsyncIterator[None]]:
        """An aiohttp cleanup context: the pump runs while at least one app runs."""

        async def ctx(app: web.Application) -> AsyncIterator[None]:
            self._refs += 1
            if self._pump is None:
                self._pump = asyncio.get_running_loop().create_task(self._pump_forever())
            yield
            self._refs -= 1
            await self.drop_all()
            if self._refs == 0 and self._pump is not None:
                self._pump.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._pump
                self._pump = None

        return ctx

    async def drop_all(self) -> int:
        """Close every connection (the "drop" fault); returns how many were closed."""
        conns = list(self.connections)
        await asyncio.gather(*(conn.close() for conn in conns))
        return len(conns)

    # -- pump ----------------------------------------------------------------------------------

    async def _pump_forever(self) -> None:
        while True:
            await asyncio.sleep(self.period_ms / 1000)
            if self.paused:
                continue
            try:
                await self.pump_once()
            except Exception:  # one bad batch must not stop the feeds
                self.state.unexpected_errors += 1
                log.exception("websocket pump failed")

    async def pump_once(self) -> int:
        """Drain the engine and send every message; returns how many frames went out."""
        exchange = self.state.exchange
        events = exchange.drain_events()
        now = self.state.now_ms()
        subscribed = [topic for topic, conns in self.subscribers.items() if conns]
        if not events and not self.derived.pending and not self.snapshots.due(now, subscribed):
            return 0
        batch = messages(exchange, events)
        batch += self.derived.messages(exchange, events, now, subscribed)
        batch += self.snapshots.messages(exchange, now, subscribed)
        sent = 0
        for message in batch:
            if self.record is not None:
                self.record.append(message)
            sent += await self.publish(message)
        self.sent += sent
        return sent

    async def publish(self, message: Outgoing) -> int:
        """Queue one message for every subscriber of its topic; returns the frames queued.

        Never waits for a client: each connection has its own bounded buffer and writer.
        """
        conns = self.subscribers.get(message.topic)
        if not conns:
            return 0
        text = _ENCODER.encode(message.frame()).decode()
        frames = self.faults.apply(message.topic, text)
        sent = 0
        for conn in list(conns):
            if message.uid is not None and conn.grant.uid != message.uid:
                continue
            for frame in frames:
                if not self._offer(conn, frame):
                    break
                sent += 1
        return sent

    def _offer(self, conn: Connection, frame: str) -> bool:
        """Queue a frame for one connection; count it when it overflows and is dropped."""
        if conn.offer(frame):
            return True
        if conn.slow and conn in self.connections:
            self.dropped_slow += 1
            self._forget(conn)
            log.info("dropped websocket %s: %d frames behind", conn.connect_id, self.send_buffer)
        return False

    # -- connections ---------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """``GET /endpoint``: upgrade, check the token, welcome, then serve frames."""
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        connect_id = request.query.get("connectId", "")
        grant = self.state.ws_tokens.check(request.query.get("token", ""), self.state.now_ms())
        if grant is None:
            await _refuse(ws, connect_id, 401, "token is invalid")
            return ws
        if grant.uid is not None and self._users[grant.uid] >= MAX_CONNECTIONS_PER_USER:
            await _refuse(ws, connect_id, 509, "exceed max connection count limitation of 50")
            return ws
        conn = Connection(
            ws, grant, connect_id, buffer=self.send_buffer, transport=request.transport
        )
        await self._serve(conn)
        return ws

    async def _serve(self, conn: Connection) -> None:
        self.connections.add(conn)
        if conn.grant.uid is not None:
            self._users[conn.grant.uid] += 1
        conn.start()
        try:
            conn.offer({"id": conn.connect_id, "type": "welcome"})
            await self._read(conn)
        finally:
            self._forget(conn)
            await conn.stop()

    async def _read(self, conn: Connection) -> None:
        tokens = self.state.ws_tokens
        idle_s = (tokens.ping_interval_ms + tokens.ping_timeout_ms) / 1000
        while True:
            try:
                msg = await conn.ws.receive(timeout=idle_s)
            except TimeoutError:
                await conn.close()
                return
            if msg.type is not WSMsgType.TEXT:
                return
            if not await self._on_frame(conn, msg.data):
                await conn.close()
                return

    def _forget(self, conn: Connection) -> None:
        if conn not in self.connections:
            return
        self.connections.discard(conn)
        if conn.grant.uid is not None:
            self._users[conn.grant.uid] -= 1
        for key in conn.topics:
            self.subscribers.get(key, set()).discard(conn)

    async def _on_frame(self, conn: Connection, text: str) -> bool:
        """Handle one uplink frame; False closes the connection."""
        now = self.state.now_ms()
        while conn.uplink and conn.uplink[0] <= now - UPLINK_WINDOW_MS:
            conn.uplink.popleft()
        conn.uplink.append(now)
        try:
            frame = json.loads(text)
        except ValueError:
            return True
        if not isinstance(frame, dict):
            return True
        request_id = str(frame.get("id", ""))
        if len(conn.uplink) > UPLINK_LIMIT:
            await _error(conn, request_id, 509, "exceed max permits per second")
            return False
        kind = frame.get("type")
        if kind == "ping":
            await conn.send({"id": request_id, "type": "pong", "timestamp": now * 1000})
        elif kind in ("subscribe", "unsubscribe"):
            await self._on_request(conn, request_id, str(kind), frame)
        return True

    async def _on_request(
        self, conn: Connection, request_id: str, kind: str, frame: dict[str, Any]
    ) -> None:
        keys = topic_keys(str(frame.get("topic", "")))
        refusal = self._refusal(conn, kind, keys)
        if refusal is not None:
            await _error(conn, request_id, *refusal)
            return
        for key in keys:
            if kind == "subscribe":
                conn.topics.add(key)
                self.subscribers.setdefault(key, set()).add(conn)
            else:
                conn.topics.discard(key)
                self.subscribers.get(key, set()).discard(conn)
        if frame.get("response", False):
            await conn.send({"id": request_id, "type": "ack"})

    def _refusal(self, conn: Connection, kind: str, keys: list[str]) -> tuple[int, str] | None:
        if not keys or len(keys) > MAX_TOPICS_PER_REQUEST:
            return 509, "exceed max subscription count limitation of 100 per time"
        for key in keys:
            prefix = key.partition(":")[0]
            if prefix in PRIVATE_TOPICS:
                if conn.grant.uid is None:
                    return 401, f"topic {key} needs a private token"
            elif prefix not in PUBLIC_PREFIXES or not self._known_public(key):
                return 404, f"topic {key} is not found"
        if kind == "subscribe" and len(conn.topics | set(keys)) > MAX_TOPICS_PER_CONNECTION:
            return 509, "exceed max subscription count limitation of 300 per session"
        return None

    def _known_public(self, key: str) -> bool:
        """Candle topics name a known interval, snapshot topics a symbol, market or currency."""
        if key.startswith(SNAPSHOT_PREFIX + ":"):
            return snapshot_topic_ok(self.state.exchange, key)
        return not key.startswith(CANDLES_PREFIX + ":") or candle_topic_ok(key)


async def _error(conn: Connection, request_id: str, code: int, message: str) -> None:
    await conn.send({"id": request_id, "type": "error", "code": code, "data": message})


async def _refuse(ws: web.WebSocketResponse, connect_id: str, code: int, message: str) -> None:
    frame = {"id": connect_id, "type": "error", "code": code, "data": message}
    await ws.send_str(json.dumps(frame, separators=(",", ":")))
    await ws.close()
