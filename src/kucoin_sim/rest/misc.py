"""Server time, service status, caller IP and WebSocket tokens (spot and futures hosts)."""

from __future__ import annotations

from kucoin_sim.auth import Permission
from kucoin_sim.ratelimit import Pool
from kucoin_sim.rest.routing import Call, RouteTable

spot = RouteTable()
futures = RouteTable()


def server_time(call: Call) -> object:
    """``data`` is the simulator's clock in ms (it carries any injected offset)."""
    return call.now_ms


def service_status(call: Call) -> object:
    """``{status: open|close|cancelonly, msg}``."""
    faults = call.state.faults
    return {"status": faults.status.value, "msg": faults.status_msg}


def my_ip(call: Call) -> object:
    """The caller's address as the simulator sees it."""
    return call.request.remote or ""


def _bullet(call: Call, uid: str | None) -> object:
    tokens = call.state.ws_tokens
    return {
        "token": tokens.issue(uid, call.now_ms),
        "instanceServers": [
            {
                "endpoint": f"ws://{call.request.host}/endpoint",
                "encrypt": False,
                "protocol": "websocket",
                "pingInterval": tokens.ping_interval_ms,
                "pingTimeout": tokens.ping_timeout_ms,
            }
        ],
    }


def bullet_public(call: Call) -> object:
    """A public WebSocket token (no user) and the endpoint to connect to."""
    return _bullet(call, None)


def bullet_private(call: Call) -> object:
    """A private WebSocket token for the caller's uid (private topics need one)."""
    return _bullet(call, call.uid)


for table, weight in ((spot, 3), (futures, 2)):
    table.add("GET", "/api/v1/timestamp", pool=Pool.PUBLIC, weight=weight)(server_time)
    table.add("GET", "/api/v1/status", pool=Pool.PUBLIC, weight=3)(service_status)
    table.add("POST", "/api/v1/bullet-public", pool=Pool.PUBLIC, weight=10)(bullet_public)
spot.add("GET", "/api/v1/my-ip", pool=Pool.PUBLIC, weight=0)(my_ip)
spot.add(
    "POST", "/api/v1/bullet-private", pool=Pool.SPOT, weight=10, permission=Permission.GENERAL
)(bullet_private)
futures.add(
    "POST", "/api/v1/bullet-private", pool=Pool.FUTURES, weight=10, permission=Permission.GENERAL
)(bullet_private)
