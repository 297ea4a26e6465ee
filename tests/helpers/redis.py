"""Redis fixtures: the shared server at 127.0.0.1:6379 (skipped locally when down, failed in CI).

Each test gets its own key prefix and deletes its keys after; nothing ever stops the shared
server. :class:`TcpProxy` stands between a client and Redis so a test can make Redis stop
answering (``pause``: bytes are held, the client times out), vanish (``close``: connections
refused) and come back, for this client only.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from tests.conftest import services_required

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/0"


async def redis_or_skip() -> Redis:
    """A client of the shared Redis; skip (locally) or fail (CI) when it does not answer."""
    client = Redis.from_url(REDIS_URL, socket_timeout=5, socket_connect_timeout=3)
    try:
        await client.ping()
    except (OSError, TimeoutError, Exception) as exc:  # redis-py wraps OSErrors
        await client.aclose()
        message = f"Redis is not reachable at {REDIS_URL} ({type(exc).__name__}): start it"
        if services_required():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return client


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix no other test uses; its keys are deleted after the test."""
    client = await redis_or_skip()
    prefix = f"kcgw:test:{secrets.token_hex(6)}:"
    try:
        yield prefix
    finally:
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


class TcpProxy:
    """A loopback TCP relay to ``(host, port)`` that can be paused, closed and reopened."""

    def __init__(self, host: str = REDIS_HOST, port: int = REDIS_PORT) -> None:
        self.target = (host, port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        """The Redis URL through this proxy."""
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        """Listen (on the same port as before, after :meth:`close`)."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    def pause(self) -> None:
        """Hold every byte from now on: the client's commands get no answer."""
        self._flowing.clear()

    def resume(self) -> None:
        """Relay again."""
        self._flowing.set()

    async def close(self) -> None:
        """Stop listening and cut every relayed connection (the client sees refusals)."""
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.transport.abort()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._tasks):
            task.cancel()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.get_running_loop().create_task(self._pipe(src, dst))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await src.read(65536):
                await self._flowing.wait()
                dst.write(data)
                await dst.drain()
        self._writers.discard(dst)
        dst.transport.abort()
