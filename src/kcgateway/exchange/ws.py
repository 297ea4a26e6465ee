"""WebSocket pumps around the sans-I/O :class:`~kcgateway.kucoin.ws_session.WsSession`.

:class:`WsConnection` owns one socket at a time and keeps it alive: fetch a token (a bullet
call through the REST client), connect, feed every frame and the clock to the session, send
what it says, and when the socket dies (drop, pong or welcome timeout, token refused) wait a
capped, jittered backoff (:class:`~kcgateway.kucoin.retry.RetryPolicy`) and start again with a
*new* token, resubscribing every topic it holds. :class:`WsClient` spreads topics over as many
connections as needed so that none goes past ``max_topics`` (below KuCoin's 300 cap).

Handlers are plain callables run in the pump task: ``on_message(DataMessage)`` for data and
``on_subscribed(topic_keys)`` when the server acknowledged a subscription (after a reconnect
too, which is when a book must be rebuilt).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Protocol, Self

import aiohttp

from kcgateway.clock import Clock, SystemClock
from kcgateway.errors import KcgatewayError
from kcgateway.kucoin.models import BulletToken
from kcgateway.kucoin.retry import RetryPolicy
from kcgateway.kucoin.ws_session import (
    MAX_TOPICS_PER_CONNECTION,
    Acked,
    Close,
    DataMessage,
    Event,
    SendFrame,
    ServerError,
    SessionAction,
    SubscribeFailed,
    Welcomed,
    WsSession,
    topic_keys,
)

__all__ = ["NoMetrics", "StreamMetrics", "TokenSource", "WsClient", "WsConnection", "WsOwner"]

log = logging.getLogger("kcgateway.exchange.ws")

TokenSource = Callable[[], Awaitable[BulletToken]]
MessageHandler = Callable[[DataMessage], None]
SubscribedHandler = Callable[[tuple[str, ...]], None]
DEFAULT_RETRY = RetryPolicy(max_attempts=1, base_ms=200, cap_ms=10_000)
DEFAULT_MAX_TOPICS = 250


class StreamMetrics(Protocol):
    """Hooks the feeds call; wire them to Prometheus or logs. :class:`NoMetrics` ignores all."""

    def reconnected(self, reason: str) -> None:
        """A connection was lost and is being re-opened."""

    def gap(self, symbol: str) -> None:
        """A book saw a sequence gap (or a crossed or malformed update) and was discarded."""

    def resynced(self, symbol: str) -> None:
        """A book was rebuilt from a snapshot."""

    def lag(self, symbol: str, lag_ms: int) -> None:
        """Exchange time of an update vs local time when it was applied."""


class NoMetrics:
    """The default :class:`StreamMetrics`: does nothing."""

    def reconnected(self, reason: str) -> None:
        """Ignored."""

    def gap(self, symbol: str) -> None:
        """Ignored."""

    def resynced(self, symbol: str) -> None:
        """Ignored."""

    def lag(self, symbol: str, lag_ms: int) -> None:
        """Ignored."""


def _group(keys: set[str] | list[str]) -> list[str]:
    """Topic keys back into ``prefix:SYM1,SYM2`` topics, one per prefix."""
    by_prefix: dict[str, list[str]] = {}
    for key in sorted(keys):
        prefix, sep, symbol = key.partition(":")
        by_prefix.setdefault(prefix + sep, []).append(symbol)
    return [prefix + ",".join(symbols) for prefix, symbols in by_prefix.items()]


class WsConnection:
    """One auto-reconnecting KuCoin WebSocket connection (see the module docstring)."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        token_source: TokenSource,
        *,
        on_message: MessageHandler,
        on_subscribed: SubscribedHandler,
        private: bool = False,
        clock: Clock | None = None,
        metrics: StreamMetrics | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.topics: set[str] = set()
        self.connects = 0
        self._http = http
        self._token_source = token_source
        self._on_message = on_message
        self._on_subscribed = on_subscribed
        self._private = private
        self._clock = clock or SystemClock()
        self._metrics = metrics or NoMetrics()
        self._retry = retry
        self._rand = rand
        self._session: WsSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        """Start the connect/reconnect loop (idempotent)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def subscribe(self, keys: list[str]) -> None:
        """Add topic keys; they are sent now if connected, else at the next welcome."""
        new = [key for key in keys if key not in self.topics]
        self.topics.update(new)
        session, ws = self._session, self._ws
        if session is None or ws is None or not new:
            return
        now = self._clock.now_ms()
        for topic in _group(new):
            await self._perform(ws, session.subscribe(topic, now))

    async def unsubscribe(self, keys: list[str]) -> None:
        """Remove topic keys; they are unsubscribed now if connected (and not resubscribed)."""
        gone = [key for key in keys if key in self.topics]
        self.topics.difference_update(gone)
        session, ws = self._session, self._ws
        if session is None or ws is None or not gone:
            return
        now = self._clock.now_ms()
        for topic in _group(gone):
            await self._perform(ws, session.unsubscribe(topic, now))

    async def drop(self) -> None:
        """Close the current socket (the loop reconnects): for tests and operators."""
        if self._ws is not None:
            await self._ws.close()

    async def aclose(self) -> None:
        """Stop reconnecting and close the socket."""
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        attempt = 0
        while not self._closing:
            reason = "closed"
            try:
                welcomed = await self._connect_once()
            except (aiohttp.ClientError, OSError, TimeoutError, KcgatewayError) as exc:
                welcomed, reason = False, type(exc).__name__
            except Exception as exc:  # a failing handler must not end the feed silently
                log.exception("websocket handler failed")
                welcomed, reason = False, type(exc).__name__
            attempt = 1 if welcomed else attempt + 1
            self._metrics.reconnected(reason)
            log.info("websocket reconnecting", extra={"reason": reason, "attempt": attempt})
            await asyncio.sleep(self._retry.backoff_ms(attempt, self._rand) / 1000)

    async def _connect_once(self) -> bool:
        bullet = await self._token_source()
        server = bullet.instance_servers[0]
        connect_id = secrets.token_hex(8)
        url = f"{server.endpoint}?token={bullet.token.reveal()}&connectId={connect_id}"
        session = WsSession(
            now=self._clock.now_ms(),
            ping_interval_ms=server.ping_interval,
            ping_timeout_ms=server.ping_timeout,
            private=self._private,
        )
        async with self._http.ws_connect(url, autoping=True) as ws:
            self._ws, self._session = ws, session
            try:
                return await self._pump(ws, session)
            finally:
                self._ws = self._session = None

    async def _pump(self, ws: aiohttp.ClientWebSocketResponse, session: WsSession) -> bool:
        welcomed = False
        while True:
            msg = await self._receive(ws, session)
            now = self._clock.now_ms()
            if msg is not None:
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    return welcomed
                events = session.receive_frame(msg.data, now)
                if not await self._on_events(ws, session, events, now):
                    return welcomed
                welcomed = welcomed or any(isinstance(e, Welcomed) for e in events)
            if not await self._perform(ws, session.next_actions(now)):
                return welcomed

    async def _receive(
        self, ws: aiohttp.ClientWebSocketResponse, session: WsSession
    ) -> aiohttp.WSMessage | None:
        deadline = session.next_deadline()
        timeout = None if deadline is None else max(deadline - self._clock.now_ms(), 0) / 1000
        try:
            return await ws.receive(timeout=timeout)
        except TimeoutError:
            return None

    async def _on_events(
        self,
        ws: aiohttp.ClientWebSocketResponse,
        session: WsSession,
        events: list[Event],
        now: int,
    ) -> bool:
        for event in events:
            if isinstance(event, DataMessage):
                self._on_message(event)
            elif isinstance(event, Welcomed):
                self.connects += 1
                for topic in _group(self.topics):
                    await self._perform(ws, session.subscribe(topic, now))
            elif isinstance(event, Acked) and event.kind == "subscribe":
                self._on_subscribed(event.topics)
            elif isinstance(event, SubscribeFailed | ServerError):
                log.warning(
                    "websocket refused", extra={"code": event.code, "detail": event.message}
                )
                if isinstance(event, ServerError):
                    await ws.close()
                    return False
        return True

    @staticmethod
    async def _perform(ws: aiohttp.ClientWebSocketResponse, actions: list[SessionAction]) -> bool:
        for action in actions:
            if isinstance(action, SendFrame):
                await ws.send_str(action.frame)
            elif isinstance(action, Close):
                await ws.close()
                return False
        return True


class WsClient:
    """Topics spread over auto-reconnecting connections, at most ``max_topics`` each."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        token_source: TokenSource,
        *,
        on_message: MessageHandler,
        on_subscribed: SubscribedHandler,
        private: bool = False,
        clock: Clock | None = None,
        metrics: StreamMetrics | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        rand: Callable[[], float] = random.random,
        max_topics: int = DEFAULT_MAX_TOPICS,
    ) -> None:
        if not 0 < max_topics <= MAX_TOPICS_PER_CONNECTION:
            raise ValueError(f"max_topics must be in 1..{MAX_TOPICS_PER_CONNECTION}")
        self.connections: list[WsConnection] = []
        self._max_topics = max_topics

        def make() -> WsConnection:
            return WsConnection(
                http,
                token_source,
                on_message=on_message,
                on_subscribed=on_subscribed,
                private=private,
                clock=clock,
                metrics=metrics,
                retry=retry,
                rand=rand,
            )

        self._make = make

    async def subscribe(self, topic: str) -> None:
        """Subscribe ``prefix:SYM1,SYM2,...``; opens connections as the per-connection cap fills."""
        held = {key for conn in self.connections for key in conn.topics}
        new = [key for key in dict.fromkeys(topic_keys(topic)) if key not in held]
        while new:
            conn = self._with_room()
            room = self._max_topics - len(conn.topics)
            batch, new = new[:room], new[room:]
            await conn.subscribe(batch)
            conn.start()

    async def unsubscribe(self, topic: str) -> None:
        """Unsubscribe ``prefix:SYM1,SYM2,...`` from whichever connections hold its keys."""
        keys = set(topic_keys(topic))
        for conn in self.connections:
            held = [key for key in conn.topics if key in keys]
            if held:
                await conn.unsubscribe(held)

    def _with_room(self) -> WsConnection:
        for conn in self.connections:
            if len(conn.topics) < self._max_topics:
                return conn
        conn = self._make()
        self.connections.append(conn)
        return conn

    async def aclose(self) -> None:
        """Close every connection."""
        for conn in self.connections:
            await conn.aclose()


class WsOwner:
    """Base of the feeds: a :class:`WsClient` opened lazily, on the caller's or its own session.

    The aiohttp session is made on first use when the caller gave none, and closed by
    :meth:`aclose` only in that case. Subclasses say how to build their client.
    """

    def __init__(self, http: aiohttp.ClientSession | None) -> None:
        self._own_http = http is None
        self._http = http
        self._ws: WsClient | None = None

    def _build_ws(self, http: aiohttp.ClientSession) -> WsClient:
        raise NotImplementedError

    @property
    def ws(self) -> WsClient:
        """The connections (opened at the first subscription)."""
        if self._ws is None:
            if self._http is None:
                self._http = aiohttp.ClientSession()
            self._ws = self._build_ws(self._http)
        return self._ws

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections and the HTTP session if we made it."""
        await self._close_ws()
        await self._close_http()

    async def _close_ws(self) -> None:
        if self._ws is not None:
            await self._ws.aclose()

    async def _close_http(self) -> None:
        if self._own_http and self._http is not None:
            await self._http.close()
