"""The simulator's WebSocket server over loopback: tokens, protocol, limits, feeds, faults."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import aiohttp

from kucoin_sim.ws.routes import HUB_KEY
from tests.kucoin_sim.harness import Sim, running_sim


async def _token(sim: Sim, account: dict[str, Any] | None = None, futures: bool = False) -> str:
    path = "/api/v1/bullet-private" if account else "/api/v1/bullet-public"
    data = await sim.ok(account, "POST", path, futures=futures)
    server = data["instanceServers"][0]
    base = sim.futures if futures else sim.spot
    assert server["endpoint"] == base.replace("http", "ws") + "/endpoint"
    return str(data["token"])


@asynccontextmanager
async def _connect(
    sim: Sim, token: str, futures: bool = False
) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    base = (sim.futures if futures else sim.spot).replace("http", "ws")
    async with sim.session.ws_connect(f"{base}/endpoint?token={token}&connectId=c1") as ws:
        yield ws


async def _recv(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    msg = await ws.receive(timeout=30)
    assert msg.type is aiohttp.WSMsgType.TEXT, msg
    return json.loads(msg.data)  # type: ignore[no-any-return]


async def _drain(ws: aiohttp.ClientWebSocketResponse) -> None:
    with contextlib.suppress(TimeoutError):
        while True:
            await ws.receive(timeout=0.2)


async def _request(ws: aiohttp.ClientWebSocketResponse, topic: str, kind: str = "subscribe") -> Any:
    await ws.send_json({"id": "r1", "type": kind, "topic": topic, "response": True})
    while True:  # feed messages of earlier subscriptions may come first: skip to the answer
        frame = await _recv(ws)
        if frame.get("id") == "r1":
            return frame


async def _place(sim: Sim, account: dict[str, Any], side: str, price: str, size: str) -> str:
    body = {
        "clientOid": secrets.token_hex(8),
        "symbol": "BTC-USDT",
        "side": side,
        "type": "limit",
        "price": price,
        "size": size,
    }
    data = await sim.ok(account, "POST", "/api/v1/hf/orders", body)
    return str(data["orderId"])


async def test_welcome_ping_subscribe_and_level2_consistent_with_snapshot() -> None:
    async with running_sim() as sim:
        account = await sim.account(hf=True)
        async with _connect(sim, await _token(sim)) as ws:
            assert await _recv(ws) == {"id": "c1", "type": "welcome"}
            await ws.send_json({"id": "p1", "type": "ping"})
            pong = await _recv(ws)
            assert (pong["id"], pong["type"]) == ("p1", "pong")
            assert await _request(ws, "/market/level2:BTC-USDT") == {"id": "r1", "type": "ack"}
            await sim.apps.spot[HUB_KEY].pump_once()  # the market makers' opening quotes
            await _drain(ws)
            _, book, _ = await sim.call(
                account, "GET", "/api/v3/market/orderbook/level2?symbol=BTC-USDT"
            )
            before = int(book["data"]["sequence"])
            await _place(sim, account, "buy", "1000", "0.001")
            await _place(sim, account, "buy", "1001", "0.002")
            frames = [await _recv(ws)]  # one message, or two if the pump ran in between
            while frames[-1]["data"]["sequenceEnd"] < before + 2:
                frames.append(await _recv(ws))
            assert {f["topic"] for f in frames} == {"/market/level2:BTC-USDT"}
            starts = [f["data"]["sequenceStart"] for f in frames]
            ends = [f["data"]["sequenceEnd"] for f in frames]
            assert starts == [before + 1] + [end + 1 for end in ends[:-1]]
            assert ends[-1] == before + 2
            bids = sorted(row for f in frames for row in f["data"]["changes"]["bids"])
            assert bids == [["1000", "0.001", str(before + 1)], ["1001", "0.002", str(before + 2)]]


async def test_bad_token_is_refused_with_401() -> None:
    async with running_sim() as sim, _connect(sim, "nope") as ws:
        frame = await _recv(ws)
        assert (frame["type"], frame["code"]) == ("error", 401)


async def test_expired_tokens_are_refused() -> None:
    async with running_sim() as sim:
        token = await _token(sim)
        await sim.admin("POST", "/_sim/ws/faults", {"kind": "expireTokens"})
        async with _connect(sim, token) as ws:
            assert (await _recv(ws))["code"] == 401


async def test_limits_and_unknown_topics() -> None:
    async with running_sim() as sim, _connect(sim, await _token(sim)) as ws:
        await _recv(ws)
        symbols = ",".join(f"S{i}-USDT" for i in range(101))
        assert (await _request(ws, f"/market/ticker:{symbols}"))["code"] == 509
        assert (await _request(ws, "/market/nothing:BTC-USDT"))["code"] == 404
        assert (await _request(ws, "/account/balance"))["code"] == 401
        for start in (0, 100, 200):
            batch = ",".join(f"S{i}-USDT" for i in range(start, start + 100))
            assert (await _request(ws, f"/market/ticker:{batch}"))["type"] == "ack"
        assert (await _request(ws, "/market/ticker:X-USDT"))["code"] == 509
        assert (await _request(ws, "/market/ticker:S1-USDT", "unsubscribe"))["type"] == "ack"
        assert (await _request(ws, "/market/ticker:X-USDT"))["type"] == "ack"


async def test_uplink_flood_closes_the_connection() -> None:
    async with running_sim() as sim, _connect(sim, await _token(sim)) as ws:
        await _recv(ws)
        for i in range(101):
            await ws.send_json({"id": str(i), "type": "ping"})
        frames = [await _recv(ws) for _ in range(101)]
        assert frames[-1]["code"] == 509
        assert (await ws.receive(timeout=30)).type in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSED,
        )


async def test_private_order_events_go_to_their_owner_only() -> None:
    async with running_sim() as sim:
        alice = await sim.account(hf=True)
        bob = await sim.account(hf=True)
        async with (
            _connect(sim, await _token(sim, alice)) as ws_a,
            _connect(sim, await _token(sim, bob)) as ws_b,
        ):
            for ws in (ws_a, ws_b):
                await _recv(ws)
                assert (await _request(ws, "/spotMarket/tradeOrdersV2"))["type"] == "ack"
            order_id = await _place(sim, alice, "buy", "1000", "0.001")
            frame = await _recv(ws_a)
            assert frame["topic"] == "/spotMarket/tradeOrdersV2"
            assert (frame["data"]["orderId"], frame["data"]["type"]) == (order_id, "received")
            await _place(sim, bob, "buy", "999", "0.001")
            assert (await _recv(ws_b))["data"]["price"] == "999"


async def test_faults_skip_duplicate_delay_and_drop() -> None:
    async with running_sim() as sim:
        account = await sim.account(hf=True)
        hub = sim.apps.spot[HUB_KEY]
        async with _connect(sim, await _token(sim)) as ws:
            await _recv(ws)
            await _request(ws, "/market/level2:BTC-USDT")
            await hub.pump_once()  # the opening quotes must not be the message the fault skips
            await _drain(ws)
            topic = "/market/level2:BTC-USDT"
            await sim.admin("POST", "/_sim/ws/faults", {"kind": "skip", "topic": topic})
            await _place(sim, account, "buy", "1000", "0.001")
            await hub.pump_once()
            await sim.admin("POST", "/_sim/ws/faults", {"kind": "duplicate", "topic": topic})
            await _place(sim, account, "buy", "1001", "0.001")
            await hub.pump_once()
            first, second = await _recv(ws), await _recv(ws)
            assert first == second and first["data"]["changes"]["bids"][0][0] == "1001"
            await sim.admin("POST", "/_sim/ws/faults", {"kind": "delay", "topic": topic})
            await _place(sim, account, "buy", "1002", "0.001")
            await hub.pump_once()
            await _place(sim, account, "buy", "1003", "0.001")
            await hub.pump_once()
            later, held = await _recv(ws), await _recv(ws)
            assert later["data"]["changes"]["bids"][0][0] == "1003"
            assert held["data"]["changes"]["bids"][0][0] == "1002"
            reply = await sim.admin("POST", "/_sim/ws/faults", {"kind": "drop"})
            assert reply["data"]["affected"] == 1
            assert (await ws.receive(timeout=30)).type in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSED,
            )


async def test_bad_fault_request_is_400() -> None:
    async with (
        running_sim() as sim,
        sim.session.post(sim.spot + "/_sim/ws/faults", json={"kind": "x"}) as resp,
    ):
        assert resp.status == 400


async def test_tokens_expire_after_their_ttl() -> None:
    async with running_sim() as sim:
        await sim.admin("POST", "/_sim/ws/faults", {"kind": "tokenTtl", "ttlMs": 100})
        token = await _token(sim)
        await asyncio.sleep(0.2)
        async with _connect(sim, token) as ws:
            assert (await _recv(ws))["code"] == 401


async def test_fifty_connections_per_user() -> None:
    async with running_sim() as sim, contextlib.AsyncExitStack() as stack:
        account = await sim.account(hf=True)
        token = await _token(sim, account)
        for _ in range(50):
            ws = await stack.enter_async_context(_connect(sim, token))
            assert (await _recv(ws))["type"] == "welcome"
        extra = await stack.enter_async_context(_connect(sim, token))
        assert (await _recv(extra))["code"] == 509


async def test_ticker_and_match_topics() -> None:
    async with running_sim() as sim:
        maker, taker = await sim.account(hf=True), await sim.account(hf=True)
        async with _connect(sim, await _token(sim)) as ws:
            await _recv(ws)
            await _request(ws, "/market/match:BTC-USDT")
            await _request(ws, "/market/ticker:BTC-USDT")
            await sim.apps.spot[HUB_KEY].pump_once()
            await _drain(ws)
            maker_id = await _place(sim, maker, "sell", "65000", "0.001")  # inside the spread
            taker_id = await _place(sim, taker, "buy", "65000", "0.001")
            frames: dict[str, dict[str, Any]] = {}
            while len(frames) < 2 or frames["trade.ticker"]["data"]["price"] is None:
                frame = await _recv(ws)
                frames[frame["subject"]] = frame
            match = frames["trade.l3match"]["data"]
            assert (match["makerOrderId"], match["takerOrderId"]) == (maker_id, taker_id)
            assert (match["price"], match["size"], match["side"]) == ("65000", "0.001", "buy")
            assert frames["trade.ticker"]["data"]["price"] == "65000"


async def test_futures_level2_orders_and_position_topics() -> None:
    async with running_sim() as sim:
        account = await sim.account()
        funding = {"uid": account["uid"], "accountType": "futures", "balances": {"USDT": "10000"}}
        await sim.admin("POST", "/_sim/fund", funding)
        async with _connect(sim, await _token(sim, account, futures=True), futures=True) as ws:
            await _recv(ws)
            for topic in (
                "/contractMarket/level2:XBTUSDTM",
                "/contractMarket/tradeOrders",
                "/contract/position:XBTUSDTM",
            ):
                assert (await _request(ws, topic))["type"] == "ack"
            await sim.apps.spot[HUB_KEY].pump_once()
            await _drain(ws)
            body = {
                "clientOid": secrets.token_hex(8),
                "symbol": "XBTUSDTM",
                "side": "buy",
                "type": "market",
                "size": 1,
                "leverage": 5,
            }
            await sim.ok(account, "POST", "/api/v1/orders", body, futures=True)
            subjects: dict[str, dict[str, Any]] = {}
            while "position.change" not in subjects or "level2" not in subjects:
                frame = await _recv(ws)
                subjects[frame["subject"]] = frame["data"]
            assert subjects["position.change"]["currentQty"] == "1"
            price, side, _ = subjects["level2"]["change"].split(",")
            assert side == "sell" and Decimal(price) > 0
            assert subjects["orderChange"]["symbol"] == "XBTUSDTM"
