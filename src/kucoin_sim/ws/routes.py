"""Routes of the WebSocket side: ``/endpoint`` on both hosts, ``/_sim/ws/faults`` on spot."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

from kucoin_sim.ws.server import Hub

if TYPE_CHECKING:
    from kucoin_sim.state import SimState


HUB_KEY = web.AppKey("ws_hub", Hub)


def install(spot: web.Application, futures: web.Application, state: SimState) -> Hub:
    """Add the WebSocket endpoint to both apps and the fault route to the spot app."""
    hub = Hub(state)
    for app in (spot, futures):
        app.router.add_get("/endpoint", hub.handle)
        app.cleanup_ctx.append(hub.context())
    spot[HUB_KEY] = hub
    spot.router.add_post("/_sim/ws/faults", _faults_route(hub))
    return hub


def _faults_route(hub: Hub) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def route(request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
            kind = str(body["kind"])
            count = await _apply(hub, kind, body)
        except (ValueError, KeyError, TypeError) as exc:
            return web.json_response({"code": "400100", "msg": str(exc)}, status=400)
        return web.json_response({"code": "200000", "data": {"affected": count}})

    return route


async def _apply(hub: Hub, kind: str, body: dict[str, object]) -> int:
    if kind == "drop":
        return await hub.drop_all()
    if kind == "tokenTtl":
        hub.state.ws_tokens.ttl_ms = int(str(body["ttlMs"]))
        return 0
    if kind == "expireTokens":
        expired = hub.state.ws_tokens.expire_all()
        await hub.drop_all()
        return expired
    count = int(str(body.get("count", 1)))
    hub.faults.arm(str(body["topic"]), kind, count)
    return count
