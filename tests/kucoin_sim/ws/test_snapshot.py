"""``/market/snapshot:{symbol}`` and ``/market/snapshot:{market}`` over real WebSocket clients."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import aiohttp
import ccxt.pro

from kucoin_sim.ws.routes import HUB_KEY
from tests.kucoin_sim.harness import Sim, running_sim

FIELDS = {
    "askSize", "averagePrice", "baseCurrency", "bidSize", "board", "buy", "changePrice",
    "changeRate", "close", "datetime", "high", "lastTradedPrice", "low", "makerCoefficient",
    "makerFeeRate", "marginTrade", "mark", "market", "markets", "open", "quoteCurrency", "sell",
    "sort", "symbol", "symbolCode", "takerCoefficient", "takerFeeRate", "trading", "vol",
    "volValue",
}  # fmt: skip


async def _connect(sim: Sim) -> aiohttp.ClientWebSocketResponse:
    data = await sim.ok(None, "POST", "/api/v1/bullet-public")
    url = sim.spot.replace("http", "ws") + f"/endpoint?token={data['token']}&connectId=c"
    ws = await sim.session.ws_connect(url)
    assert json.loads((await ws.receive(timeout=10)).data)["type"] == "welcome"
    return ws


async def _ask(ws: aiohttp.ClientWebSocketResponse, topic: str) -> dict[str, Any]:
    await ws.send_json({"id": "s", "type": "subscribe", "topic": topic, "response": True})
    while True:
        frame = json.loads((await ws.receive(timeout=10)).data)
        if frame.get("id") == "s":
            return frame  # type: ignore[no-any-return]


async def _messages(ws: aiohttp.ClientWebSocketResponse, n: int) -> list[dict[str, Any]]:
    out = []
    while len(out) < n:
        frame = json.loads((await ws.receive(timeout=10)).data)
        if frame.get("type") == "message":
            out.append(frame)
    return out


async def test_symbol_and_market_snapshots_have_kucoins_shape_and_the_rest_figures() -> None:
    async with running_sim() as sim:  # default symbols and market makers
        hub = sim.apps.spot[HUB_KEY]
        hub.paused = True
        taker = await sim.account(hf=True)
        body = {"clientOid": "t1", "symbol": "BTC-USDT", "side": "buy", "type": "market",
                "size": "0.01"}  # fmt: skip
        await sim.ok(taker, "POST", "/api/v1/hf/orders", body)  # one trade: 24 h figures
        ws = await _connect(sim)
        assert await _ask(ws, "/market/snapshot:BTC-USDT") == {"id": "s", "type": "ack"}
        await hub.pump_once()
        (frame,) = await _messages(ws, 1)
        assert (frame["topic"], frame["subject"]) == ("/market/snapshot:BTC-USDT", "trade.snapshot")
        assert isinstance(frame["data"]["sequence"], str)
        snap = frame["data"]["data"]
        assert set(snap) == FIELDS
        stats = await sim.ok(None, "GET", "/api/v1/market/stats?symbol=BTC-USDT")
        assert isinstance(snap["lastTradedPrice"], int | float)  # numbers, as KuCoin sends
        for ours, rest in (("lastTradedPrice", "last"), ("buy", "buy"), ("sell", "sell"),
                           ("vol", "vol"), ("volValue", "volValue"), ("high", "high")):  # fmt: skip
            assert Decimal(str(snap[ours])) == Decimal(stats[rest]), ours
        assert (snap["symbol"], snap["market"], snap["baseCurrency"]) == ("BTC-USDT", "USDS", "BTC")
        await hub.pump_once()  # within the 2 s period: nothing new
        assert await hub.pump_once() == 0
        hub.snapshots.period_ms = 0
        await hub.pump_once()
        assert len(await _messages(ws, 1)) == 1  # the next period's snapshot

        market = await _connect(sim)
        assert await _ask(market, "/market/snapshot:BTC") == {"id": "s", "type": "ack"}
        await hub.pump_once()
        covered = {"BTC-USDT", "ETH-BTC"}  # quote BTC, and base BTC (market USDS)
        frames = await _messages(market, len(covered))
        assert {f["data"]["data"]["symbol"] for f in frames} == covered
        assert {f["topic"] for f in frames} == {"/market/snapshot:BTC"}
        assert all(isinstance(f["data"]["data"], dict) for f in frames)  # one object each
        refused = await _ask(market, "/market/snapshot:NOPE-USDT")
        assert (refused["type"], refused["code"]) == ("error", 404)
        await ws.close()
        await market.close()


async def test_ccxt_pro_watch_ticker_reads_the_symbol_snapshot() -> None:
    async with running_sim() as sim:
        ex = ccxt.pro.kucoin({"enableRateLimit": False})
        for name, value in list(ex.urls["api"].items()):
            if isinstance(value, str):
                ex.urls["api"][name] = sim.futures if name.startswith("futures") else sim.spot
        try:
            ticker = await asyncio.wait_for(ex.watch_ticker("BTC/USDT"), timeout=20)
        finally:
            await ex.close()
        assert ticker["symbol"] == "BTC/USDT"
        book = await sim.ok(None, "GET", "/api/v1/market/orderbook/level1?symbol=BTC-USDT")
        assert Decimal(str(ticker["bid"])) == Decimal(book["bestBid"])
        assert Decimal(str(ticker["ask"])) == Decimal(book["bestAsk"])
