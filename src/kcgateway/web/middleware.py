"""Pure ASGI middleware of the gateway's app: the request body limit and the request counter.

(Starlette's ``BaseHTTPMiddleware`` costs a task group per request; these cost next to nothing.)

:class:`LimitBody` keeps anyone from making the gateway read a large body. A declared
``Content-Length`` above the limit is answered 413 at once, before routing, authentication or
one byte of the body is read; a body without a declared length (chunked) is counted as it
streams in and answered 413 as soon as it passes the limit, without reading the rest. Together
with :class:`~kcgateway.web.auth.AuthFirstRoute` (the key is checked before the body is read),
a caller without a key gets at most a 401 or a 413 for its bytes.
"""

from __future__ import annotations

from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kcgateway.gateway.metrics import GatewayMetrics
from kcgateway.web.errors import error_body

#: the default limit on a request body (``KCGW_MAX_BODY_BYTES``): 1 MiB, far above any order
DEFAULT_MAX_BODY_BYTES = 1024 * 1024


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed length before we see it
    return None


def too_large_body(limit: int) -> bytes:
    """The JSON of the 413 answer."""
    message = (
        f"the request body is larger than the gateway's limit of {limit} bytes: send a smaller "
        "body (the operator sets the limit with KCGW_MAX_BODY_BYTES)"
    )
    return error_body(413, "body_too_large", message).encode()


class LimitBody:
    """Answer 413 to a request whose body exceeds ``max_bytes``, reading no more than that."""

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self._answer = too_large_body(max_bytes)

    async def _refuse(self, send: Send) -> None:
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(self._answer)).encode()),
            (b"connection", b"close"),  # the rest of the body is never read
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": self._answer})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse a declared oversize body at once; count an undeclared one as it arrives."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(send)
            return
        received = 0
        started = refused = False

        async def counted() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    refused = True
                    if not started:
                        await self._refuse(send)
                    # the app stops reading here; whatever it answers then is dropped
                    return {"type": "http.disconnect"}
            return message

        async def sending(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counted, sending)


class CountRequests:
    """Count requests by route template, method and status (``GatewayMetrics.on_request``)."""

    def __init__(self, app: ASGIApp, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; count it when the response is done (or failed)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route = scope.get("route")
            path = route.path if isinstance(route, APIRoute) else "unmatched"
            self.metrics.on_request(path, scope["method"], status)
