"""The request pipeline every REST route goes through.

Order: faults (latency, 5xx, 429 storm) -> maintenance -> body (size limit) -> authentication
(private routes) -> rate limit (per uid, or per IP for public routes) -> handler -> envelope ->
lost-response fault. Public routes ignore any auth headers (CLIENT-QUIRKS.md item 8).
An unexpected exception becomes a 500000 envelope and is counted in ``state.unexpected_errors``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

import msgspec
from aiohttp import web

from kucoin_sim.auth import AuthContext, AuthFailure, SignedRequest, authenticate
from kucoin_sim.faults import FaultKind, FaultRule, ServiceStatus
from kucoin_sim.rest.params import ApiError
from kucoin_sim.rest.routing import Call, Route

if TYPE_CHECKING:
    from kucoin_sim.state import SimState

log = logging.getLogger("kucoin_sim")

AioHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_ALWAYS_OPEN = ("/api/v1/status", "/api/v1/timestamp")


def envelope(data: object) -> bytes:
    """``{"code":"200000","data":...}`` as JSON bytes."""
    return msgspec.json.encode({"code": "200000", "data": data})


def error_response(
    code: str, msg: str, status: int, headers: Mapping[str, str] | None = None
) -> web.Response:
    """A KuCoin error envelope."""
    body = msgspec.json.encode({"code": code, "msg": msg})
    return web.Response(body=body, status=status, content_type="application/json", headers=headers)


def _remote(request: web.Request) -> str:
    return request.remote or "unknown"


class Dispatcher:
    """Turns a :class:`Route` into an aiohttp handler bound to the simulator state."""

    def __init__(self, state: SimState) -> None:
        self.state = state

    def bind(self, route: Route) -> AioHandler:
        """The aiohttp handler for one route."""

        async def handle(request: web.Request) -> web.StreamResponse:
            return await self.dispatch(request, route)

        return handle

    async def dispatch(self, request: web.Request, route: Route) -> web.StreamResponse:
        """Run the whole pipeline for one request."""
        state = self.state
        fired = state.faults.fire(request.method, request.path, state.rng)
        if fired:
            early = await self._apply_faults(fired, request)
            if early is not None:
                early.headers.update(self._peek(request))
                for rule in fired:
                    if rule.kind is FaultKind.RATE_LIMIT and rule.reset_ms is not None:
                        early.headers["gw-ratelimit-reset"] = str(rule.reset_ms)
                return early
        try:
            response = await self._serve(request, route)
        except Exception:  # the envelope is the contract, even for our own bugs
            state.unexpected_errors += 1
            log.exception("unexpected error on %s %s", request.method, request.path)
            response = error_response("500000", "Internal Server Error", 500)
        if any(rule.kind is FaultKind.LOSE_RESPONSE for rule in fired):
            _drop_connection(request)
        return response

    async def _apply_faults(
        self, fired: list[FaultRule], request: web.Request
    ) -> web.Response | None:
        for rule in fired:
            if rule.kind is FaultKind.LATENCY:
                # the exchange has the whole request before it is slow (a client that gives up
                # during the delay must not stop the order from landing, as at KuCoin)
                await _read_body(request)
                await asyncio.sleep(rule.latency_ms / 1000)
        for rule in fired:
            if rule.kind in (FaultKind.DROP_REQUEST, FaultKind.RESET):
                _drop_connection(request, reset=rule.kind is FaultKind.RESET)
                return error_response("500000", "request dropped (injected)", 500)  # never sent
            if rule.kind is FaultKind.ERROR_5XX:
                return error_response("500000", "Internal Server Error (injected)", rule.status)
            if rule.kind is FaultKind.RATE_LIMIT:
                return error_response("429000", "Too Many Requests", 429)
        return None

    def _peek(self, request: web.Request) -> dict[str, str]:
        """Rate-limit headers for answers that debit nothing (the caller's IP pool)."""
        quota = self.state.limiter.charge(
            "public", "ip:" + _remote(request), 0, self.state.now_ms()
        )
        return quota.headers()

    async def _serve(self, request: web.Request, route: Route) -> web.Response:
        state = self.state
        now_ms = state.now_ms()
        refused = _maintenance(state.faults.status, request.path, route)
        if refused is not None:
            refused.headers.update(self._peek(request))
            return refused
        body = await _read_body(request)
        if body is None:
            return error_response("400100", "Request body too large", 413, self._peek(request))
        auth: AuthContext | None = None
        if route.private:
            try:
                auth = authenticate(
                    _signed(request, body),
                    keys=state.keys,
                    partners=state.partners,
                    now_ms=now_ms,
                    permission=route.permission,
                    broker_route=route.broker,
                )
            except AuthFailure as exc:
                return error_response(exc.code, exc.msg, exc.http_status, self._peek(request))
        subject = auth.key.uid if auth is not None else "ip:" + _remote(request)
        quota = state.limiter.charge(route.pool, subject, route.weight, now_ms)
        headers = quota.headers()
        if not quota.allowed:
            return error_response("429000", "Too Many Requests", 429, headers)
        try:
            data = route.handler(Call(request, state, auth, body, now_ms))
        except ApiError as exc:
            return error_response(exc.code, exc.msg, exc.http_status, headers)
        return web.Response(body=envelope(data), content_type="application/json", headers=headers)


_BODY = web.RequestKey("kucoin_sim.body", object)


async def _read_body(request: web.Request) -> bytes | None:
    """The request body, read once (None: over the size limit); later calls answer the same."""
    if _BODY not in request:
        try:
            request[_BODY] = await request.read()
        except web.HTTPRequestEntityTooLarge:
            request[_BODY] = None
    body = request[_BODY]
    return body if isinstance(body, bytes) else None


def _signed(request: web.Request, body: bytes) -> SignedRequest:
    raw_path, _, raw_query = request.raw_path.partition("?")
    return SignedRequest(
        method=request.method,
        path=raw_path,
        raw_query=raw_query,
        body=body,
        headers=request.headers,
        remote=_remote(request),
    )


def _maintenance(status: ServiceStatus, path: str, route: Route) -> web.Response | None:
    if status is ServiceStatus.CLOSE and path not in _ALWAYS_OPEN:
        return error_response("503000", "The system is under maintenance", 503)
    if status is ServiceStatus.CANCEL_ONLY and route.trading:
        return error_response("200001", "Order creation for this pair suspended", 400)
    return None


def _drop_connection(request: web.Request, *, reset: bool = False) -> None:
    """Close the connection unanswered; ``reset``: with a TCP RST (SO_LINGER 0) instead of FIN."""
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if reset and sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()


def not_found(state: SimState) -> AioHandler:
    """Catch-all handler: 404000 for unknown paths (and wrong methods), with limit headers."""

    async def handle(request: web.Request) -> web.StreamResponse:
        quota = state.limiter.charge("public", "ip:" + _remote(request), 1, state.now_ms())
        return error_response("404000", "Not Found", 404, quota.headers())

    return handle
