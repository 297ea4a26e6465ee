"""The change bus: tells every gateway instance on one database what another one changed.

A halt, a resume, a revoked or rotated key, a removed account, new broker settings and newly
committed events are written to the database first (the record); the bus only tells the other
instances to drop what they keep in memory about it, so they read it again. A message carries a
topic and an id (a key id, an account id, a risk generation), never a secret or a row.

- :class:`LocalBus`: one process (SQLite, a single instance). Buses made on the same
  :class:`LocalHub` tell each other (two gateways in one test process); alone it tells no one.
- :class:`PgBus`: PostgreSQL ``LISTEN``/``NOTIFY`` on one channel. Messages are sent after the
  change committed, batched (one ``pg_notify`` round trip for what accumulated meanwhile), and
  received on a dedicated asyncpg connection opened from the engine's own connection arguments.
  A listener connection that drops (or stops answering the liveness probe) is reopened, and
  everything is re-read at once since notifications sent meanwhile are lost.

The safety net, on every bus: every :attr:`ChangeBus.resync_s` seconds each subscriber re-reads
what it keeps (``resync``), so a lost notification (a cut connection, a crashed sender, the CLI
on SQLite) delays a change by at most that period. An instance never hears its own messages: it
applied its change itself before sending.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import text

from kcgateway.store.database import Database
from kcgateway.tasks import stop_task

log = logging.getLogger("kcgateway.gateway.cluster")
Handler = Callable[[str], Awaitable[None]]
Resync = Callable[[], Awaitable[None]]
#: the NOTIFY channel (one gateway deployment per database)
CHANNEL = "kcgw_changes"
#: how often every subscriber re-reads what it keeps (the safety net for lost notifications)
RESYNC_S = 5.0
#: how long the sender waits for more changes before one NOTIFY round trip carries them all
COALESCE_S = 0.005
#: the longest a listener connection may take to answer the liveness probe
PROBE_TIMEOUT_S = 5.0
_CONNECT_ARGS = frozenset(inspect.signature(asyncpg.connect).parameters)


class Topic(StrEnum):
    """What changed; the message's id names which one."""

    RISK = "risk"  # id: the risk generation after the change
    KEY = "key"  # id: the gateway key id
    SUSPENSION = "suspension"  # id: the suspended subject (``<address>`` or ``<key>@<address>``)
    ACCOUNT = "account"  # id: the exchange account id (removed)
    BROKER = "broker"  # id: empty (one broker per gateway)
    EVENTS = "events"  # id: empty (followers read from their last id)


@dataclass(frozen=True, slots=True)
class Change:
    """One message: a topic and the id of what changed (never a value)."""

    topic: Topic
    ident: str = ""


def encode(change: Change, origin: str) -> str:
    """``topic:origin:id`` (the payload of a NOTIFY). Pure."""
    return f"{change.topic.value}:{origin}:{change.ident}"


def decode(payload: str) -> tuple[Change, str] | None:
    """The change and its sender's origin; None for a payload this version cannot read. Pure."""
    topic, sep, rest = payload.partition(":")
    origin, sep2, ident = rest.partition(":")
    if not (sep and sep2) or topic not in Topic.__members__.values():
        return None
    return Change(Topic(topic), ident), origin


class ChangeBus:
    """Subscribers by topic, the periodic re-read, and what is waiting to be sent."""

    def __init__(self, *, resync_s: float = RESYNC_S) -> None:
        self.resync_s = resync_s
        #: who sends (a random token: an instance skips its own messages)
        self.origin = secrets.token_hex(8)
        self._handlers: dict[Topic, list[Handler]] = {t: [] for t in Topic}
        self._resyncs: list[Resync] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._running: set[asyncio.Task[None]] = set()
        #: messages received from other instances and handled (for tests and benches)
        self.received = 0

    def subscribe(self, topic: Topic, handler: Handler, resync: Resync | None = None) -> None:
        """Call ``handler(id)`` for each change another instance made; ``resync`` periodically."""
        self._handlers[topic].append(handler)
        if resync is not None:
            self._resyncs.append(resync)

    def publish(self, topic: Topic, ident: str = "") -> None:
        """Tell the other instances (after the change committed). Never blocks, never raises."""

    def start(self) -> None:
        """Start the periodic re-read (call from a running event loop)."""
        if not self._tasks:
            self._spawn(self._resync_forever())

    def _spawn(self, work: Awaitable[None]) -> None:
        self._tasks.append(asyncio.ensure_future(work))

    async def resync_now(self) -> None:
        """Every subscriber re-reads what it keeps (a failure is logged; the next round retries)."""
        for resync in self._resyncs:
            try:
                await resync()
            except Exception:
                log.exception("re-reading after possibly lost changes failed")

    async def _resync_forever(self) -> None:
        while True:
            await asyncio.sleep(self.resync_s)
            await self.resync_now()

    def receive(self, change: Change) -> None:
        """Hand a change another instance made to its topic's subscribers (in the background)."""
        self.received += 1
        for handler in self._handlers[change.topic]:
            task = asyncio.ensure_future(self._handle(handler, change))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    @staticmethod
    async def _handle(handler: Handler, change: Change) -> None:
        try:
            await handler(change.ident)
        except Exception:  # the periodic re-read catches up
            log.exception("applying a change from another instance failed: %s", change.topic)

    async def aclose(self) -> None:
        """Stop listening and re-reading; the subclasses send what was still waiting first."""
        tasks, self._tasks = [*self._tasks, *self._running], []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


class LocalHub:
    """The buses of one process that tell each other (the in-process transport)."""

    def __init__(self) -> None:
        self.buses: list[LocalBus] = []


class LocalBus(ChangeBus):
    """In-process delivery to the other buses of the same :class:`LocalHub`."""

    def __init__(self, hub: LocalHub | None = None, *, resync_s: float = RESYNC_S) -> None:
        super().__init__(resync_s=resync_s)
        self._hub = hub if hub is not None else LocalHub()
        self._hub.buses.append(self)

    def publish(self, topic: Topic, ident: str = "") -> None:
        """Deliver to every other bus of the hub, on the next turn of the event loop."""
        change = Change(topic, ident)
        loop = asyncio.get_running_loop()
        for bus in self._hub.buses:
            if bus is not self:
                loop.call_soon(bus.receive, change)

    async def aclose(self) -> None:
        """Leave the hub and stop."""
        if self in self._hub.buses:
            self._hub.buses.remove(self)
        await super().aclose()


class PgBus(ChangeBus):
    """PostgreSQL LISTEN/NOTIFY between the instances of one database (see the module)."""

    def __init__(
        self,
        db: Database,
        *,
        channel: str = CHANNEL,
        resync_s: float = RESYNC_S,
        listen: bool = True,
    ) -> None:
        super().__init__(resync_s=resync_s)
        self._db = db
        self.channel = channel
        self.listen = listen
        self._pending: dict[Change, None] = {}
        self._wake = asyncio.Event()
        self._sender: asyncio.Task[None] | None = None
        self._inflight: asyncio.Task[None] | None = None
        self._conn: Any = None  # the listener's asyncpg connection while it is open
        self._listening = asyncio.Event()
        #: how many times the listener connection was (re)opened
        self.connects = 0
        #: whether the last batch could not be sent (logged once per outage)
        self.send_failing = False

    # ---- sending ------------------------------------------------------------------------------

    def publish(self, topic: Topic, ident: str = "") -> None:
        """Queue the message; the sender batches what accumulates into one round trip."""
        self._pending[Change(topic, ident)] = None
        self._wake.set()
        if self._sender is None:
            self._sender = asyncio.get_running_loop().create_task(self._send_forever())

    async def _send_forever(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(COALESCE_S)
            await self.flush()

    async def flush(self) -> None:
        """Send what is waiting now (lost on failure: the periodic re-read covers it).

        The round trip is shielded: a sender cancelled at shutdown still completes the batch
        it took, and :meth:`aclose` waits for it.
        """
        self._wake.clear()
        batch, self._pending = list(self._pending), {}
        if not batch:
            return
        self._inflight = asyncio.ensure_future(self._send(batch))
        await asyncio.shield(self._inflight)

    async def _send(self, batch: list[Change]) -> None:
        payloads = [encode(change, self.origin) for change in batch]
        query = text("SELECT pg_notify(:channel, p) FROM unnest(CAST(:payloads AS text[])) AS p")
        try:
            async with self._db.engine.begin() as conn:
                await conn.execute(query, {"channel": self.channel, "payloads": payloads})
        except Exception:
            if not self.send_failing:  # once per outage, not once per batch
                log.exception("sending change notifications failed (the re-read covers them)")
            self.send_failing = True
        else:
            if self.send_failing:
                log.warning("sending change notifications works again")
            self.send_failing = False

    # ---- listening ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the re-read and (unless ``listen`` is off) the listener."""
        first = not self._tasks
        super().start()
        if first and self.listen:
            self._spawn(self._listen_forever())

    @property
    def listening(self) -> bool:
        """Whether the listener connection is open and subscribed now."""
        return self._listening.is_set()

    async def wait_listening(self) -> None:
        """Until the listener is subscribed (tests: changes made after this are heard)."""
        await self._listening.wait()

    @property
    def listener_pid(self) -> int | None:
        """The database backend serving the listener (None while it is closed)."""
        conn = self._conn
        return None if conn is None else int(conn.get_server_pid())

    async def _listen_forever(self) -> None:
        failures = 0
        while True:
            try:
                await self._listen_once()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # unreachable, refused, cut: open it again
                failures += 1
                log.warning(
                    "change listener connection lost (%s): reconnecting", type(exc).__name__
                )
            self._listening.clear()
            await asyncio.sleep(min(self.resync_s, 0.2 * failures))

    async def _listen_once(self) -> None:
        engine = self._db.engine
        _, params = engine.dialect.create_connect_args(engine.url)
        # the dialect's own options (statement cache sizes) are not the driver's to take
        conn = await asyncpg.connect(**{k: v for k, v in params.items() if k in _CONNECT_ARGS})
        lost = asyncio.Event()
        try:
            conn.add_termination_listener(lambda _conn: lost.set())
            await conn.add_listener(self.channel, self._on_notify)
            self._conn = conn
            self.connects += 1
            self._listening.set()
            if self.connects > 1:  # what was sent while we were away is lost: read it all
                await self.resync_now()
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), self.resync_s)
                if not lost.is_set():
                    await asyncio.wait_for(conn.fetchval("SELECT 1"), PROBE_TIMEOUT_S)
            raise ConnectionError("the listener connection was closed")
        finally:
            self._conn = None
            self._listening.clear()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), PROBE_TIMEOUT_S)

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        decoded = decode(payload)
        if decoded is not None and decoded[1] != self.origin:
            self.receive(decoded[0])

    async def aclose(self) -> None:
        """Send what is waiting, then stop listening."""
        sender, self._sender = self._sender, None
        await stop_task(sender)
        if self._inflight is not None:
            await self._inflight
        await self.flush()
        await super().aclose()


def change_bus(db: Database, *, resync_s: float = RESYNC_S) -> ChangeBus:
    """The bus for ``db``: LISTEN/NOTIFY on PostgreSQL, in-process on SQLite (one instance)."""
    if db.is_sqlite:
        return LocalBus(resync_s=resync_s)
    return PgBus(db, resync_s=resync_s)
