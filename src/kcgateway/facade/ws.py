"""The facade's private WebSocket endpoint: a thin pump around the sans-I/O session.

``GET /facade-ws?token=...&connectId=...`` on the spot and the futures listener (the endpoint
each host's ``bullet-private`` names; both serve every private topic, since ccxt watches a
futures position over the spot bullet). The token is redeemed before the upgrade is accepted
(one connection per token; the server's log line of an accepted WebSocket, which shows the
query, comes after the token is spent); a refused one gets KuCoin's
``{"id":<connectId>,"type":"error","code":401,"data":"token is expired"}`` and the socket is
closed. Then ``welcome``; from there two tasks share the socket: the reader answers uplink
frames (:class:`~kcgateway.gateway.facade.ws_session.PrivateSession`) and drops a client silent
for ``pingInterval + pingTimeout``; the pump relays the bound account's events
(:meth:`~kcgateway.gateway.facade.stream.FacadeStream.follow`), re-reads the futures position
and wallet a futures fill changed when the client holds their topics (an exchange that does not
answer skips that message, never the stream), and closes the socket when the stream ends (the
key or its facade credential revoked or expired); a third sends the ``filled`` messages the
session held for a match that did not come (``HOLD_MS``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from kcgateway.errors import FacadeRefused, KcgatewayError
from kcgateway.gateway.apikeys import client_ip
from kcgateway.gateway.facade.stream import (
    EXPIRED,
    PING_INTERVAL_MS,
    PING_TIMEOUT_MS,
    FacadeStream,
)
from kcgateway.gateway.facade.ws_futures import Refresh
from kcgateway.gateway.facade.ws_session import HOLD_MS, PrivateSession
from kcgateway.gateway.facade.ws_tokens import WsGrant

log = logging.getLogger("kcgateway.facade.ws")
IDLE_S = (PING_INTERVAL_MS + PING_TIMEOUT_MS) / 1000
#: the largest uplink frame read (subscribe frames are small)
MAX_FRAME = 4096
Send = Callable[[dict[str, Any]], Awaitable[None]]


def _sender(websocket: WebSocket) -> Send:
    lock = asyncio.Lock()

    async def send(frame: dict[str, Any]) -> None:
        text = json.dumps(frame, separators=(",", ":"))
        async with lock:
            await websocket.send_text(text)

    return send


def private_ws(
    stream: FacadeStream | None, trusted_proxies: Sequence[str] = ()
) -> Callable[[WebSocket], Awaitable[None]]:
    """The endpoint over ``stream`` (None: every connection is refused)."""
    proxies = tuple(trusted_proxies)

    async def endpoint(websocket: WebSocket) -> None:
        session = PrivateSession(websocket.query_params.get("connectId", "")[:64])
        refusal = FacadeRefused("401", EXPIRED)
        grant: WsGrant | None = None
        try:  # spent before the server logs the URL (with its token)
            if stream is not None:
                peer = websocket.client.host if websocket.client else ""
                ip = client_ip(peer, websocket.headers.get("x-forwarded-for"), proxies)
                grant = await stream.open(websocket.query_params.get("token", ""), ip)
        except FacadeRefused as exc:
            refusal = exc
        try:
            await websocket.accept()
            send = _sender(websocket)
            if stream is None or grant is None:
                code, text = int(refusal.kc_code), refusal.message
                await send({"id": session.connect_id, "type": "error", "code": code, "data": text})
                await websocket.close()
                return
            await _serve(websocket, send, stream, grant, session)
        finally:
            if stream is not None and grant is not None:
                stream.close(grant)

    return endpoint


async def _serve(
    websocket: WebSocket, send: Send, stream: FacadeStream, grant: WsGrant, session: PrivateSession
) -> None:
    """Welcome, then read and relay until either side ends."""
    after = await stream.start()
    await send(session.welcome())
    loop = asyncio.get_running_loop()
    pump = loop.create_task(_pump(websocket, send, stream, grant, after=after, session=session))
    flush = loop.create_task(_flush(send, stream, session))
    try:
        await _read(websocket, send, session)
    finally:
        for task in (pump, flush):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await websocket.close()


async def _read(websocket: WebSocket, send: Send, session: PrivateSession) -> None:
    """Answer uplink frames until the client leaves or stays silent too long."""
    while True:
        try:
            text = await asyncio.wait_for(websocket.receive_text(), IDLE_S)
        except (TimeoutError, WebSocketDisconnect, RuntimeError, KeyError):
            return
        if len(text) > MAX_FRAME:
            await send({"id": "", "type": "error", "code": 400, "data": "frame too large"})
            continue
        try:
            frame = json.loads(text)
        except ValueError:
            continue
        for answer in session.receive(frame):
            await send(answer)


async def _flush(send: Send, stream: FacadeStream, session: PrivateSession) -> None:
    """Send the held ``filled`` messages that are due (their closing match never came)."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            await asyncio.sleep(HOLD_MS / 2000)
            for message in session.expire(stream.now_ms()):
                await send(message)


async def _pump(
    websocket: WebSocket,
    send: Send,
    stream: FacadeStream,
    grant: WsGrant,
    *,
    after: int,
    session: PrivateSession,
) -> None:
    """Relay the account's events; close the socket when the stream ends."""
    try:
        async for event in stream.follow(grant, after):
            if event is None:
                continue
            for message in session.relay(event):
                await send(message)
            todo = session.refresh(event)
            if todo is not None:
                for message in await _refreshed(stream, grant, session, todo):
                    await send(message)
    except (WebSocketDisconnect, RuntimeError):
        return
    except Exception:  # a broken pump must not leave a silent socket open
        log.exception("facade private stream failed")
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
        await websocket.close()


async def _refreshed(
    stream: FacadeStream, grant: WsGrant, session: PrivateSession, todo: Refresh
) -> list[dict[str, Any]]:
    """The position and wallet messages ``todo`` asks for, re-read from the exchange now."""
    out: list[dict[str, Any]] = []
    try:
        if todo.position:
            out += session.position(todo.symbol, await stream.position(grant, todo.symbol))
        if todo.wallet:
            out += session.wallet(await stream.wallet(grant, todo.symbol), stream.now_ms())
    except KcgatewayError as exc:  # the exchange did not answer: the next change re-reads
        log.info("facade futures re-read skipped: %s", type(exc).__name__)
    return out
