"""``/v1/events/ws``: the event stream of ``GET /v1/events`` over a WebSocket.

The same key (``Authorization: Bearer kgw_...`` on the handshake), the same rules and the same
resume: ``Last-Event-ID`` header or ``?after=`` (without either, live events only), ``?kinds=``.
Each event is one text message, the JSON of :func:`kcgateway.web.events.event_json`; the first
message is ``{"resumeAfter": <id>}``, where a client that drops before its first event resumes.
A refused handshake is answered with the HTTP error (401, 403, 400) where the server supports
denial responses, else closed with 1008 (policy) before it is accepted. The connection closes
with 1008 when the key is revoked or expires while it follows.

Not an :class:`~fastapi.routing.APIRoute`: it is outside the OpenAPI document, and it
authenticates in the handler (the routes' scope guards read an HTTP request).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse
from starlette.websockets import WebSocketState

from kcgateway.errors import KcgatewayError, PermissionDenied, Unauthenticated
from kcgateway.gateway.apikeys import Scope, client_ip
from kcgateway.gateway.event_feed import EventFeed, filter_for, parse_kinds
from kcgateway.gateway.keys import Principal
from kcgateway.gateway.services import GatewayServices
from kcgateway.web import errors
from kcgateway.web.events import event_json, resume_point

EVENTS_WS_PATH = "/v1/events/ws"  # mounted by app.py (add_api_websocket_route)
POLICY_VIOLATION = 1008


async def _admit(ws: WebSocket, services: GatewayServices) -> tuple[Principal, str]:
    """The caller's principal (with ``read``) and address; raises the refusal."""
    peer = ws.client.host if ws.client else ""
    ip = client_ip(peer, ws.headers.get("x-forwarded-for"), services.trusted_proxies)
    principal = await services.keys.authenticate(ws.headers.get("authorization"), ip)
    if not principal.allows(Scope.READ):
        raise PermissionDenied(Scope.READ.value)
    return principal, ip


async def _refuse(ws: WebSocket, exc: KcgatewayError) -> None:
    known = errors.describe(exc)
    status, body = known if known is not None else (403, '{"error":"forbidden"}')
    if "websocket.http.response" in ws.scope.get("extensions", {}):
        await ws.send_denial_response(JSONResponse(json.loads(body), status_code=status))
    else:
        await ws.close(code=POLICY_VIOLATION)


async def events_ws(ws: WebSocket) -> None:
    """Follow the tenant's events over a WebSocket (see the module docstring)."""
    services: GatewayServices = ws.app.state.services
    feed: EventFeed | None = services.event_feed
    try:
        principal, ip = await _admit(ws, services)
        kinds = parse_kinds(ws.query_params.get("kinds"))
        after_param = ws.query_params.get("after")
        start = resume_point(ws.headers.get("last-event-id") or after_param, None)
    except (Unauthenticated, PermissionDenied, KcgatewayError) as exc:
        await _refuse(ws, exc)
        return
    if feed is None:  # pragma: no cover - every built gateway has one
        await ws.close(code=1011)
        return
    await ws.accept()
    after = start if start is not None else await feed.last_id()
    pump = asyncio.create_task(_pump(ws, feed, principal, ip, kinds=kinds, after=after))
    closed = asyncio.create_task(_until_closed(ws))
    _done, pending = await asyncio.wait({pump, closed}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:  # the client left (stop following) or the pump ended (it closed)
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


async def _until_closed(ws: WebSocket) -> None:
    """Read (and ignore) what the client sends until it disconnects."""
    while (await ws.receive())["type"] != "websocket.disconnect":
        pass


async def _pump(
    ws: WebSocket, feed: EventFeed, principal: Principal, ip: str, *, kinds: Any, after: int
) -> None:
    services: GatewayServices = ws.app.state.services

    async def still_allowed() -> bool:
        return await services.keys.still_usable(principal, ip)

    which = filter_for(principal.tenant_id, principal.scopes, kinds)
    try:
        await ws.send_text(json.dumps({"resumeAfter": after}))
        async for event in feed.follow(which, after=after, still_allowed=still_allowed):
            if event is not None:
                await ws.send_text(json.dumps(event_json(event), default=str))
    except (WebSocketDisconnect, OSError):
        return
    if ws.application_state is WebSocketState.CONNECTED:
        await ws.close(code=POLICY_VIOLATION)  # the key may no longer follow
