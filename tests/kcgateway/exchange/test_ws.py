"""WsConnection / WsClient against the simulator over loopback: pings, refusals, reconnects."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from kcgateway.exchange.ws import NoMetrics, WsClient
from kcgateway.kucoin import models as m
from kcgateway.kucoin.retry import RetryPolicy
from kcgateway.kucoin.ws_session import DataMessage
from kucoin_sim.config import SimConfig
from kucoin_sim.ws.routes import HUB_KEY
from tests.integration.sim_client import client
from tests.kucoin_sim.harness import running_sim

FAST = RetryPolicy(max_attempts=1, base_ms=10, cap_ms=50)


async def _until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


class Sink:
    def __init__(self) -> None:
        self.messages: list[DataMessage] = []
        self.acked: list[str] = []
        self.reasons: list[str] = []

    def make(self, http: aiohttp.ClientSession, source: Any, **kw: Any) -> WsClient:
        return WsClient(
            http,
            source,
            on_message=self.messages.append,
            on_subscribed=self.acked.extend,
            retry=FAST,
            **kw,
        )

    def reconnected(self, reason: str) -> None:
        self.reasons.append(reason)

    def gap(self, symbol: str) -> None:
        pass  # pragma: no cover

    def resynced(self, symbol: str) -> None:
        pass  # pragma: no cover

    def lag(self, symbol: str, lag_ms: int) -> None:
        pass  # pragma: no cover


async def test_pings_keep_a_quiet_connection_open_and_the_server_drops_silent_ones() -> None:
    async with running_sim(SimConfig(tick_ms=0)) as sim:
        tokens = sim.apps.state.ws_tokens
        # A ping every 200 ms; a pong may take 2 s (client) and the server drops a socket silent
        # for 2.2 s. The pinging client must outlive the idle timeout by a wide margin, while a
        # scheduling hiccup on a loaded machine (hundreds of ms) stays far below the 2 s
        # allowed for a pong (with 100/150 ms one hiccup made the client reconnect).
        tokens.ping_interval_ms, tokens.ping_timeout_ms = 200, 2000
        idle_s = (tokens.ping_interval_ms + tokens.ping_timeout_ms) / 1000
        hub = sim.apps.spot[HUB_KEY]
        sink = Sink()
        async with client(sim, None) as rest, aiohttp.ClientSession() as http:
            ws = sink.make(http, rest.ws.public_token, metrics=sink)
            await ws.subscribe("/market/ticker:BTC-USDT")
            await _until(lambda: sink.acked == ["/market/ticker:BTC-USDT"])
            await asyncio.sleep(idle_s + 1.0)  # well past the server's idle timeout
            assert ws.connections[0].connects == 1
            assert sink.reasons == []
            assert len(hub.connections) == 1  # the server kept the pinging one
            token = (await rest.ws.public_token()).token.reveal()
            url = sim.spot.replace("http", "ws") + f"/endpoint?token={token}"
            loop = asyncio.get_running_loop()
            async with http.ws_connect(url, autoping=False) as raw:
                assert (await raw.receive(timeout=10)).json()["type"] == "welcome"
                opened = loop.time()
                closed = await raw.receive(timeout=idle_s + 10)
                assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
                assert loop.time() - opened >= idle_s * 0.9  # dropped for its silence
            assert ws.connections[0].connects == 1  # the pinging one is still the first
            assert sink.reasons == []
            await ws.aclose()


async def test_refused_token_and_dropped_socket_reconnect_with_a_new_token() -> None:
    async with running_sim(SimConfig(tick_ms=0)) as sim:
        sink = Sink()
        calls = 0
        async with client(sim, None) as rest, aiohttp.ClientSession() as http:

            async def source() -> m.BulletToken:
                nonlocal calls
                calls += 1
                real = await rest.ws.public_token()
                if calls == 1:
                    raw = {"token": "expired", "instanceServers": [_server(real)]}
                    return m.parse_bullet(raw)
                return real

            ws = sink.make(http, source, metrics=sink)
            await ws.subscribe("/market/ticker:BTC-USDT")
            await _until(lambda: len(sink.acked) == 1)
            assert calls == 2 and len(sink.reasons) == 1
            await ws.connections[0].drop()
            await _until(lambda: len(sink.acked) == 2)  # resubscribed after the reconnect
            assert calls == 3
            await ws.aclose()


def _server(token: m.BulletToken) -> dict[str, Any]:
    server = token.instance_servers[0]
    return {
        "endpoint": server.endpoint,
        "encrypt": False,
        "protocol": "websocket",
        "pingInterval": server.ping_interval,
        "pingTimeout": server.ping_timeout,
    }


async def test_unreachable_endpoint_backs_off_and_retries() -> None:
    sink = Sink()
    calls = 0

    async def source() -> m.BulletToken:
        nonlocal calls
        calls += 1
        server = {"endpoint": "ws://127.0.0.1:9/endpoint", "pingInterval": 1, "pingTimeout": 1}
        return m.parse_bullet({"token": "t", "instanceServers": [server]})

    async with aiohttp.ClientSession() as http:
        ws = sink.make(http, source, metrics=sink)
        await ws.subscribe("/market/ticker:BTC-USDT")
        await _until(lambda: calls >= 3)
        assert set(sink.reasons) == {"ClientConnectorError"}
        await ws.aclose()


async def test_a_refused_topic_does_not_close_the_connection() -> None:
    async with running_sim(SimConfig(tick_ms=0)) as sim:
        sink = Sink()
        async with client(sim, None) as rest, aiohttp.ClientSession() as http:
            ws = sink.make(http, rest.ws.public_token, metrics=NoMetrics())
            await ws.subscribe("/market/nothing:BTC-USDT")
            await ws.subscribe("/market/ticker:BTC-USDT")
            await _until(lambda: sink.acked == ["/market/ticker:BTC-USDT"])
            await ws.subscribe("/market/ticker:BTC-USDT")  # already held: nothing sent
            assert ws.connections[0].connects == 1
            await ws.aclose()


async def test_topics_are_spread_below_the_cap() -> None:
    async with aiohttp.ClientSession() as http:
        sink = Sink()
        with pytest.raises(ValueError, match="max_topics"):
            sink.make(http, None, max_topics=301)
        ws = sink.make(http, _never, max_topics=2)
        await ws.subscribe("/market/ticker:A,B,C,D,E")
        assert [sorted(c.topics) for c in ws.connections] == [
            ["/market/ticker:A", "/market/ticker:B"],
            ["/market/ticker:C", "/market/ticker:D"],
            ["/market/ticker:E"],
        ]
        await ws.aclose()


async def _never() -> m.BulletToken:
    await asyncio.sleep(3600)
    raise AssertionError  # pragma: no cover


async def test_unsubscribed_topics_stop_and_stay_gone_after_a_reconnect() -> None:
    async with running_sim(SimConfig(tick_ms=10)) as sim:
        sink = Sink()
        async with client(sim, None) as rest, aiohttp.ClientSession() as http:
            ws = sink.make(http, rest.ws.public_token, metrics=NoMetrics())
            await ws.subscribe("/market/ticker:BTC-USDT,ETH-USDT")
            await _until(lambda: len(sink.acked) == 2)
            await _until(lambda: {m.topic for m in sink.messages} >= {
                "/market/ticker:BTC-USDT", "/market/ticker:ETH-USDT"
            })  # fmt: skip
            await ws.unsubscribe("/market/ticker:BTC-USDT")
            await ws.unsubscribe("/market/ticker:SOL-USDT")  # never held: nothing to do
            assert ws.connections[0].topics == {"/market/ticker:ETH-USDT"}
            await asyncio.sleep(0.2)  # the unsubscribe is acknowledged meanwhile
            sink.messages.clear()
            await _until(lambda: len(sink.messages) > 10)
            assert {m.topic for m in sink.messages} == {"/market/ticker:ETH-USDT"}  # live
            sink.messages.clear()
            await ws.connections[0].drop()
            await _until(lambda: len(sink.acked) == 3)
            assert sink.acked[-1] == "/market/ticker:ETH-USDT"  # BTC is not resubscribed
            await _until(lambda: len(sink.messages) > 10)
            assert {m.topic for m in sink.messages} == {"/market/ticker:ETH-USDT"}
            await ws.aclose()
