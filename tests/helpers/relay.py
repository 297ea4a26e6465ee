"""TCP relays on the host, in a thread of their own: how namespaced instances reach loopback.

PostgreSQL and the shared Redis listen on 127.0.0.1 only, which a process in another network
namespace cannot reach. A relay listens on the host's bridge address and forwards each
connection to the loopback service. Every instance gets its own PostgreSQL relay, so the
harness knows which server connections are whose: :meth:`Relays.upstream_ports` lists the local
ports of an instance's live connections to PostgreSQL (``pg_stat_activity.client_port``), which
is how the chaos run terminates exactly that instance's backends, and :meth:`Relays.cut` closes
them at the relay as a second way to cut them.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")
CHUNK = 1 << 16


@dataclass(eq=False)  # hashed by identity: kept in a set
class _Pair:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter

    def abort(self) -> None:
        for writer in (self.client, self.upstream):
            writer.transport.abort()


@dataclass
class _Listener:
    server: asyncio.Server
    target: tuple[str, int]
    pairs: set[_Pair] = field(default_factory=set)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(ConnectionError, OSError, RuntimeError):
        writer.close()


class Relays:
    """Named TCP relays (``listen``), run on a private event loop in a daemon thread."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._listeners: dict[str, _Listener] = {}

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    def listen(self, name: str, host: str, target: tuple[str, int], port: int = 0) -> int:
        """Relay ``host:port`` (0: any free port) to ``target``; returns the port."""
        return self._call(self._listen(name, host, target, port))

    async def _listen(self, name: str, host: str, target: tuple[str, int], port: int) -> int:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            if task is not None:
                listener.tasks.add(task)
                task.add_done_callback(listener.tasks.discard)
            try:
                up_reader, up_writer = await asyncio.open_connection(*target)
            except OSError:
                writer.transport.abort()
                return
            pair = _Pair(writer, up_writer)
            listener.pairs.add(pair)
            try:
                await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
            finally:
                listener.pairs.discard(pair)

        server = await asyncio.start_server(handle, host, port)
        listener = _Listener(server, target)
        self._listeners[name] = listener
        sock_port: int = server.sockets[0].getsockname()[1]
        return sock_port

    def upstream_ports(self, name: str) -> set[int]:
        """The local ports of the relay's live connections to its target."""

        async def ports() -> set[int]:
            found = set()
            for pair in self._listeners[name].pairs:
                sockname = pair.upstream.get_extra_info("sockname")
                if sockname:
                    found.add(int(sockname[1]))
            return found

        return self._call(ports())

    def cut(self, name: str) -> int:
        """Abort every live connection of relay ``name`` (both sides); returns how many."""

        async def cut() -> int:
            listener = self._listeners[name]
            pairs = list(listener.pairs)
            for pair in pairs:
                pair.abort()
                listener.pairs.discard(pair)  # gone now, not when its pipes notice
            return len(pairs)

        return self._call(cut())

    def close(self) -> None:
        """Stop listening, abort every connection, stop the thread."""

        async def close() -> None:
            for listener in self._listeners.values():
                listener.server.close()
                for pair in list(listener.pairs):
                    pair.abort()
            tasks = [t for listener in self._listeners.values() for t in listener.tasks]
            if tasks:  # let every connection's handler finish and close its writers
                await asyncio.wait(tasks, timeout=5)

        with contextlib.suppress(Exception):
            self._call(close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self._loop.close()
