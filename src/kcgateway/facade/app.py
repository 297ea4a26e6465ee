"""The KuCoin-compatible listener: an ASGI app that looks like KuCoin's spot host.

``kcgateway serve --kucoin-port N`` serves it beside the ``/v1`` API. Every request, whatever
its path, goes to :meth:`~kcgateway.gateway.facade.service.FacadeService.handle` with its method,
path, raw query, raw body (at most ``max_body_bytes``: KuCoin's signature covers the exact
bytes, so nothing is re-serialised), headers and the client address (the ``/v1`` rule:
``KCGW_TRUSTED_PROXIES``); the answer is KuCoin's envelope ``{"code":"200000","data":...}``, or
its error envelope (``errors.py``), with KuCoin's ``gw-ratelimit-*`` headers of the facade's
budget the request was debited from. Only protocol shaping lives here; the rules are in
``kcgateway.gateway.facade``.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute

from kcgateway.facade.errors import describe, envelope
from kcgateway.facade.ws import private_ws
from kcgateway.gateway.apikeys import client_ip
from kcgateway.gateway.facade.service import FacadeRequest, FacadeService
from kcgateway.gateway.facade.stream import WS_PATH

JSON = "application/json"
DEFAULT_MAX_BODY_BYTES = 64 * 1024
_OK_HEAD = b'{"code":"200000","data":'


class _TooLarge(Exception):
    """The body passed the limit (the rest is never read)."""


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def create_facade_app(
    facade: FacadeService,
    *,
    trusted_proxies: Sequence[str] = (),
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    futures: bool = False,
) -> Starlette:
    """The facade's ASGI app over ``facade``: KuCoin's spot host, or its futures host."""
    proxies = tuple(trusted_proxies)

    async def endpoint(request: Request) -> Response:
        try:
            body = await _body(request, max_body_bytes)
        except _TooLarge:
            return Response(envelope("400100", "the request body is too large"), 413, None, JSON)
        peer = request.client.host if request.client else ""
        call = FacadeRequest(
            method=request.method,
            path=request.url.path,
            raw_query=request.scope.get("query_string", b"").decode("latin-1"),
            body=body,
            headers=request.headers,
            ip=client_ip(peer, request.headers.get("x-forwarded-for"), proxies),
            futures=futures,
            ws_endpoint=_ws_endpoint(request),
        )
        answer = await facade.serve(call)
        if answer.error is not None:  # every failure is answered in KuCoin's envelope
            status, text = describe(answer.error)
            return Response(text, status, answer.headers, JSON)
        return Response(_OK_HEAD + answer.data + b"}", 200, answer.headers, JSON)

    methods = ["GET", "POST", "DELETE", "PUT"]
    routes: list[BaseRoute] = []
    # the private WebSocket of each host (its bullet-private names it)
    routes.append(WebSocketRoute(WS_PATH, private_ws(facade.stream, proxies)))
    routes.append(Route("/{path:path}", endpoint, methods=methods))
    return Starlette(routes=routes)


def _ws_endpoint(request: Request) -> str:
    """The private WebSocket's URL on the host and port this client reached."""
    scheme = "wss" if request.url.scheme == "https" else "ws"
    return f"{scheme}://{request.url.netloc}{WS_PATH}"
