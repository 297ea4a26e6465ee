"""Issue 6 topics over loopback: ticker:all, level2Depth5/50 (throttled), candles."""

from __future__ import annotations

from typing import Any

import aiohttp

from kcgateway.clock import FakeClock
from kucoin_sim.ws.routes import HUB_KEY
from kucoin_sim.ws.server import Hub
from tests.kucoin_sim.harness import Sim, running_sim
from tests.kucoin_sim.ws.test_server import _connect, _drain, _place, _recv, _request, _token

START_MS = 1_699_999_980_000  # a multiple of 60 s: one-minute candles start here


async def _subscribed(sim: Sim, ws: aiohttp.ClientWebSocketResponse, *topics: str) -> Hub:
    hub = sim.apps.spot[HUB_KEY]
    hub.paused = True  # only this test's pump_once calls send (and drain the engine)
    assert (await _recv(ws))["type"] == "welcome"
    for topic in topics:
        assert await _request(ws, topic) == {"id": "r1", "type": "ack"}
    await hub.pump_once()  # the market makers' opening quotes
    await _drain(ws)
    return hub


async def _until(ws: aiohttp.ClientWebSocketResponse, topic: str) -> dict[str, Any]:
    while True:
        frame = await _recv(ws)
        if frame["topic"] == topic:
            return frame


async def _book(sim: Sim, depth: int) -> dict[str, Any]:
    data = await sim.ok(None, "GET", "/api/v1/market/orderbook/level2_100?symbol=BTC-USDT")
    return {"asks": data["asks"][:depth], "bids": data["bids"][:depth]}


async def test_ticker_all_carries_each_symbols_ticker_with_the_symbol_as_subject() -> None:
    async with running_sim() as sim:
        account = await sim.account(hf=True)
        async with _connect(sim, await _token(sim)) as ws:
            hub = await _subscribed(sim, ws, "/market/ticker:all", "/market/ticker:BTC-USDT")
            await _place(sim, account, "buy", "1000", "0.001")
            await hub.pump_once()
            one = await _recv(ws)
            two = await _recv(ws)
            by_topic = {one["topic"]: one, two["topic"]: two}
            every = by_topic["/market/ticker:all"]
            single = by_topic["/market/ticker:BTC-USDT"]
            assert (every["subject"], single["subject"]) == ("BTC-USDT", "trade.ticker")
            assert every["data"] == single["data"]
            assert every["type"] == "message" and "userId" not in every


async def test_depth5_and_depth50_match_the_book_and_are_throttled_to_100_ms() -> None:
    clock = FakeClock(START_MS)
    async with running_sim(clock=clock) as sim:
        account = await sim.account(hf=True)
        topic5, topic50 = "/spotMarket/level2Depth5:BTC-USDT", "/spotMarket/level2Depth50:BTC-USDT"
        async with _connect(sim, await _token(sim)) as ws:
            hub = await _subscribed(sim, ws, topic5, topic50)
            clock.advance(100)
            await _place(sim, account, "buy", "64999", "0.001")  # a new best bid
            await hub.pump_once()
            frames = {f["topic"]: f for f in [await _recv(ws), await _recv(ws)]}
            for topic, depth in ((topic5, 5), (topic50, 50)):
                assert frames[topic]["subject"] == "level2"
                expected = {**await _book(sim, depth), "timestamp": START_MS + 100}
                assert frames[topic]["data"] == expected
            assert len(frames[topic5]["data"]["bids"]) == 5
            hub.record = []
            await _place(sim, account, "buy", "64999.5", "0.002")  # changes the top, too soon
            await hub.pump_once()
            assert not [m for m in hub.record if m.topic in (topic5, topic50)]
            clock.advance(100)
            await hub.pump_once()  # nothing new from the engine: the pending change goes out
            later = await _until(ws, topic5)
            assert later["data"]["bids"][0] == ["64999.5", "0.002"]
            assert later["data"]["timestamp"] == START_MS + 200


async def test_depth_is_not_resent_when_the_top_did_not_change() -> None:
    clock = FakeClock(START_MS)
    async with running_sim(clock=clock) as sim:
        account = await sim.account(hf=True)
        topic5 = "/spotMarket/level2Depth5:BTC-USDT"
        async with _connect(sim, await _token(sim)) as ws:
            hub = await _subscribed(sim, ws, topic5)
            clock.advance(1000)
            await _place(sim, account, "buy", "64998", "0.001")  # a new top: the baseline
            await hub.pump_once()
            assert (await _until(ws, topic5))["data"]["bids"][0] == ["64998", "0.001"]
            clock.advance(1000)
            hub.record = []
            await _place(sim, account, "buy", "1000", "0.001")  # far below the top 5 bids
            await hub.pump_once()
            assert [m.topic for m in hub.record if m.topic == topic5] == []
            await _place(sim, account, "buy", "64999", "0.001")
            await hub.pump_once()
            assert [m.topic for m in hub.record if m.topic == topic5] == [topic5]


async def test_candles_topic_sends_the_engines_candle_for_each_trade_batch() -> None:
    clock = FakeClock(START_MS)
    async with running_sim(clock=clock) as sim:
        maker, taker = await sim.account(hf=True), await sim.account(hf=True)
        topic = "/market/candles:BTC-USDT_1min"
        async with _connect(sim, await _token(sim)) as ws:
            hub = await _subscribed(sim, ws, topic, "/market/candles:BTC-USDT_1hour")
            clock.advance(5_000)
            await _place(sim, maker, "sell", "65000", "0.001")
            await _place(sim, taker, "buy", "65000", "0.001")
            await hub.pump_once()
            await _place(sim, maker, "sell", "65000.5", "0.002")
            await _place(sim, taker, "buy", "65000.5", "0.002")
            await hub.pump_once()
            frames = [await _recv(ws) for _ in range(4)]
            minute = [f for f in frames if f["topic"] == topic]
            assert [f["subject"] for f in minute] == ["trade.candles.update"] * 2
            start = str(START_MS // 1000)
            assert minute[-1]["data"] == {
                "symbol": "BTC-USDT",
                "candles": [start, "65000", "65000.5", "65000.5", "65000", "0.003", "195.0010"],
                "time": (START_MS + 5_000) * 1_000_000,
            }
            rest = await sim.ok(None, "GET", "/api/v1/market/candles?symbol=BTC-USDT&type=1min")
            assert rest[0] == minute[-1]["data"]["candles"]
            hour = [f for f in frames if f["topic"] != topic][-1]["data"]["candles"]
            assert hour[0] == str(START_MS // 1000 // 3600 * 3600)
            assert hour[1:] == minute[-1]["data"]["candles"][1:]


async def test_new_topics_are_validated() -> None:
    async with running_sim() as sim, _connect(sim, await _token(sim)) as ws:
        await _recv(ws)
        for bad in ("/market/candles:BTC-USDT_7min", "/market/candles:BTC-USDT", "/market/x:all"):
            assert (await _request(ws, bad))["code"] == 404, bad
        for good in (
            "/market/candles:BTC-USDT_1week",
            "/spotMarket/level2Depth5:BTC-USDT,ETH-USDT",
            "/spotMarket/level2Depth50:BTC-USDT",
        ):
            assert (await _request(ws, good))["type"] == "ack", good
