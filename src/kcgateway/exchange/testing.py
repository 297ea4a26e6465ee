"""An in-memory :class:`~kcgateway.exchange.transport.Transport` for tests and examples.

``MockTransport(handler)`` calls ``handler(request)`` for every request and records it; the
handler returns a :class:`RawResponse` or raises (for example a
:class:`~kcgateway.exchange.transport.TransportError` to simulate a timeout). Like httpx's
``MockTransport``: no sockets, no event-loop tricks.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from kcgateway.exchange.transport import RawResponse


@dataclass(frozen=True, slots=True)
class SentRequest:
    """One request as the transport saw it."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    timeout: float | None = None

    @property
    def path(self) -> str:
        """The path without the query."""
        return urlsplit(self.url).path

    @property
    def query(self) -> str:
        """The raw (wire) query, without ``?``."""
        return urlsplit(self.url).query

    @property
    def signed_path(self) -> str:
        """What KuCoin signs: the path plus ``?`` and the URL-decoded query, if any."""
        query = unquote(self.query)
        return f"{self.path}?{query}" if query else self.path

    def json(self) -> object:
        """The body decoded as JSON."""
        return json.loads(self.body)


Handler = Callable[[SentRequest], Awaitable[RawResponse] | RawResponse]


def envelope(
    data: object, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> RawResponse:
    """A success reply ``{"code": "200000", "data": data}``."""
    body = json.dumps({"code": "200000", "data": data}).encode()
    return RawResponse(status, dict(headers or {}), body)


def error_reply(
    code: str, msg: str = "", *, status: int = 400, headers: Mapping[str, str] | None = None
) -> RawResponse:
    """An error reply ``{"code": code, "msg": msg}``."""
    body = json.dumps({"code": code, "msg": msg}).encode()
    return RawResponse(status, dict(headers or {}), body)


@dataclass
class MockTransport:
    """Answers every request with ``handler``; keeps the requests in :attr:`sent`."""

    handler: Handler
    sent: list[SentRequest] = field(default_factory=list)
    closed: bool = False

    async def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        timeout: float | None = None,
    ) -> RawResponse:
        """Record the request and return the handler's reply."""
        req = SentRequest(method, url, dict(headers), body, timeout)
        self.sent.append(req)
        result = self.handler(req)
        if isinstance(result, RawResponse):
            return result
        return await result

    async def aclose(self) -> None:
        """Mark the transport closed."""
        self.closed = True
