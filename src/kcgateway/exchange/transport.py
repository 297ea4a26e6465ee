"""HTTP transports: the :class:`Transport` protocol and its aiohttp implementation.

The REST client never opens sockets itself; it is handed a transport (ARCHITECTURE.md 3.2), so
tests pass a :class:`~kcgateway.exchange.testing.MockTransport` and production passes
:class:`AiohttpTransport`. A transport moves bytes and nothing else: it does not parse
envelopes, sign or retry.

Network failures become :class:`TransportError` (an :class:`~kcgateway.errors.ExchangeUnavailable`)
whose ``sent`` flag says whether the request may have reached the server: a refused connection
(``sent=False``) cannot have placed an order; a timeout or a reset after the request was written
(``sent=True``) may have.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import aiohttp

from kcgateway.errors import ExchangeUnavailable


@dataclass(frozen=True, slots=True)
class RawResponse:
    """One HTTP reply: status, headers (case-insensitive mapping) and the raw body bytes."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class TransportError(ExchangeUnavailable):
    """The network failed. ``kind`` is ``connect``, ``timeout`` or ``reset``.

    ``sent`` is False only when the request certainly never left this process (the connection
    could not be opened); otherwise the exchange may have acted on it.
    """

    def __init__(self, kind: str, *, sent: bool, request_path: str = "") -> None:
        super().__init__(f"network_{kind}", f"network {kind}", request_path=request_path)
        self.kind = kind
        self.sent = sent


class Transport(Protocol):
    """Sends one HTTP request and returns the reply; owns its connections."""

    async def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        timeout: float | None = None,
    ) -> RawResponse:
        """Send ``body`` to ``url``; ``timeout`` (seconds) overrides the default total timeout."""
        ...

    async def aclose(self) -> None:
        """Close every connection. The transport must not be used afterwards."""
        ...


def _within(value: float | None, total: float | None) -> float | None:
    """A phase timeout that can fire before ``total``, or None when ``total`` always fires first.

    A read (or connect) timeout of at least the total timeout can never trigger: the total
    timer, started earlier, expires first. aiohttp would still arm and re-arm it (a timer per
    chunk read, each a heap push), so it is left out.
    """
    if value is None or total is None:
        return value
    return value if value < total else None


_MAX_CACHED_TIMEOUTS = 64  # callers use a handful of distinct per-request timeouts


class AiohttpTransport:
    """A pooled aiohttp transport: TLS verified, no redirects, connect and read timeouts.

    ``connect_timeout`` bounds opening a connection, ``read_timeout`` each wait for data,
    ``total_timeout`` the whole exchange; None turns one off. A per-request ``timeout`` caps
    all three.

    The :class:`aiohttp.ClientSession` is created on the first request (inside the running
    loop), so constructing the transport does no I/O and needs no event loop.
    """

    def __init__(
        self,
        *,
        connect_timeout: float | None = 5.0,
        read_timeout: float | None = 10.0,
        total_timeout: float | None = 30.0,
        max_connections: int = 100,
    ) -> None:
        self._timeout = aiohttp.ClientTimeout(
            total=total_timeout,
            sock_connect=_within(connect_timeout, total_timeout),
            sock_read=_within(read_timeout, total_timeout),
        )
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._per_request: dict[float, aiohttp.ClientTimeout] = {}
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    def _get_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("transport is closed")
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._max_connections, ssl=True)
            # The session's own User-Agent already keeps aiohttp's out; ``skip_auto_headers``
            # would rebuild a header multidict on every request for nothing.
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._timeout,
                auto_decompress=True,
                headers={"User-Agent": "kcgateway"},
            )
        return self._session

    def _timeout_for(self, timeout: float | None) -> aiohttp.ClientTimeout:
        """The timeouts of one request: ``timeout`` caps all three (built once per value)."""
        if timeout is None:
            return self._timeout
        cached = self._per_request.get(timeout)
        if cached is None:
            if len(self._per_request) >= _MAX_CACHED_TIMEOUTS:
                self._per_request.clear()
            total = timeout
            cached = aiohttp.ClientTimeout(
                total=total,
                sock_connect=_within(self._connect_timeout, total),
                sock_read=_within(self._read_timeout, total),
            )
            self._per_request[timeout] = cached
        return cached

    async def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        timeout: float | None = None,
    ) -> RawResponse:
        """Send one request; network failures raise :class:`TransportError`."""
        session = self._get_session()
        try:
            async with session.request(
                method,
                url,
                data=body or None,
                headers=headers,
                allow_redirects=False,
                timeout=self._timeout_for(timeout),
            ) as resp:
                payload = await resp.read()
                return RawResponse(resp.status, resp.headers, payload)
        except (aiohttp.ClientConnectorError, aiohttp.InvalidURL) as exc:
            raise TransportError("connect", sent=False) from exc
        except TimeoutError as exc:
            raise TransportError("timeout", sent=True) from exc
        except aiohttp.ClientError as exc:
            raise TransportError("reset", sent=True) from exc

    async def aclose(self) -> None:
        """Close the session and its pooled connections (idempotent)."""
        self._closed = True
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
