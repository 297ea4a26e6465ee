"""AiohttpTransport against a real loopback aiohttp server."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from kcgateway.errors import ExchangeUnavailable
from kcgateway.exchange.transport import AiohttpTransport, TransportError


async def _echo(request: web.Request) -> web.Response:
    body = await request.read()
    return web.json_response(
        {
            "method": request.method,
            "body": body.decode(),
            "ct": request.headers.get("X-Test"),
            "ua": request.headers.getall("User-Agent", []),
        },
        headers={"gw-ratelimit-remaining": "7"},
    )


async def _redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound("/echo")


async def _slow(request: web.Request) -> web.Response:
    await asyncio.sleep(2)
    return web.Response(text="late")


async def _reset(request: web.Request) -> web.StreamResponse:
    assert request.transport is not None
    request.transport.close()
    return web.Response(text="never")


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    app = web.Application()
    app.router.add_route("*", "/echo", _echo)
    app.router.add_get("/redirect", _redirect)
    app.router.add_get("/slow", _slow)
    app.router.add_get("/reset", _reset)
    srv = TestServer(app, host="127.0.0.1")
    await srv.start_server()
    yield srv
    await srv.close()


def _url(srv: TestServer, path: str) -> str:
    return str(srv.make_url(path))


async def test_constructor_does_no_io_and_close_without_use() -> None:
    transport = AiohttpTransport()
    assert transport._session is None
    await transport.aclose()
    with pytest.raises(RuntimeError):
        await transport.request("GET", "http://127.0.0.1:1/", {}, b"")


async def test_post_round_trip_keeps_body_headers_and_pools(server: TestServer) -> None:
    transport = AiohttpTransport()
    try:
        resp = await transport.request("POST", _url(server, "/echo"), {"X-Test": "1"}, b'{"a":1}')
        assert resp.status == 200
        assert resp.headers["GW-RATELIMIT-REMAINING"] == "7"  # case-insensitive
        assert b'"body": "{\\"a\\":1}"' in resp.body or b'"body":"{\\"a\\":1}"' in resp.body
        session = transport._session
        await transport.request("GET", _url(server, "/echo"), {}, b"")
        assert transport._session is session  # one pooled session
    finally:
        await transport.aclose()
    assert transport._session is None


async def test_the_user_agent_is_kcgateway_alone(server: TestServer) -> None:
    async with _transport() as transport:
        resp = await transport.request("GET", _url(server, "/echo"), {}, b"")
    assert json.loads(resp.body)["ua"] == ["kcgateway"]


async def test_redirects_are_not_followed(server: TestServer) -> None:
    async with _transport() as transport:
        resp = await transport.request("GET", _url(server, "/redirect"), {}, b"")
    assert resp.status == 302


async def test_timeout_is_sent_true(server: TestServer) -> None:
    async with _transport() as transport:
        with pytest.raises(TransportError) as info:
            await transport.request("GET", _url(server, "/slow"), {}, b"", timeout=0.2)
    assert info.value.kind == "timeout"
    assert info.value.sent is True
    assert isinstance(info.value, ExchangeUnavailable)


async def test_reset_is_sent_true(server: TestServer) -> None:
    async with _transport() as transport:
        with pytest.raises(TransportError) as info:
            await transport.request("GET", _url(server, "/reset"), {}, b"")
    assert info.value.kind == "reset"
    assert info.value.sent is True


async def test_refused_connection_is_not_sent() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with _transport() as transport:
        with pytest.raises(TransportError) as info:
            await transport.request("GET", f"http://127.0.0.1:{port}/", {}, b"")
    assert info.value.kind == "connect"
    assert info.value.sent is False


class _transport:  # noqa: N801 - tiny async context helper
    async def __aenter__(self) -> AiohttpTransport:
        self.t = AiohttpTransport(connect_timeout=1, read_timeout=5)
        return self.t

    async def __aexit__(self, *exc: object) -> None:
        await self.t.aclose()


async def test_per_request_timeout_caps_the_defaults() -> None:
    transport = AiohttpTransport(connect_timeout=5, read_timeout=None, total_timeout=None)
    capped = transport._timeout_for(0.5)
    # the total timer bounds everything: a connect or read timer as long could never fire first
    assert (capped.total, capped.sock_connect, capped.sock_read) == (0.5, None, None)
    assert transport._timeout_for(0.5) is capped  # built once per value, not per request
    default = transport._timeout_for(None)
    assert (default.total, default.sock_connect, default.sock_read) == (None, 5, None)
    await transport.aclose()


async def test_phase_timeouts_are_armed_only_when_they_can_fire_before_the_total() -> None:
    transport = AiohttpTransport(connect_timeout=5, read_timeout=10, total_timeout=30)
    default = transport._timeout_for(None)
    assert (default.total, default.sock_connect, default.sock_read) == (30, 5, 10)
    shorter = transport._timeout_for(8)
    assert (shorter.total, shorter.sock_connect, shorter.sock_read) == (8, 5, None)
    gateway = AiohttpTransport(read_timeout=10, total_timeout=20)._timeout_for(10)
    assert (gateway.total, gateway.sock_connect, gateway.sock_read) == (10, 5, None)
    for many in range(200):  # the per-value cache stays small
        transport._timeout_for(1 + many)
    assert len(transport._per_request) <= 64
    await transport.aclose()
