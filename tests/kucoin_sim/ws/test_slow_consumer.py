"""A client that stops reading must not stall the fan-out to the others (issue 12, finding 13).

Before per-connection buffers the pump awaited each socket write in turn: once a silent
client's socket buffers filled, every other subscriber waited with it.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp

from kucoin_sim.ws.feeds import Outgoing
from kucoin_sim.ws.routes import HUB_KEY
from tests.kucoin_sim.harness import Sim, running_sim

TOPIC = "/market/ticker:BTC-USDT"
FRAMES = 2000
PAD = "x" * 16_000  # 2,000 frames of 16 kB: 32 MB, far more than socket buffers absorb


async def _subscribe(sim: Sim, session: aiohttp.ClientSession) -> aiohttp.ClientWebSocketResponse:
    data = await sim.ok(None, "POST", "/api/v1/bullet-public")
    url = sim.spot.replace("http", "ws") + f"/endpoint?token={data['token']}&connectId=c"
    ws = await session.ws_connect(url)
    assert json.loads((await ws.receive(timeout=10)).data)["type"] == "welcome"
    await ws.send_json({"id": "s", "type": "subscribe", "topic": TOPIC, "response": True})
    assert json.loads((await ws.receive(timeout=10)).data) == {"id": "s", "type": "ack"}
    return ws


async def _read_all(ws: aiohttp.ClientWebSocketResponse, seen: list[int]) -> list[int]:
    while len(seen) < FRAMES:
        msg = await ws.receive(timeout=30)
        assert msg.type is aiohttp.WSMsgType.TEXT, msg
        seen.append(json.loads(msg.data)["data"]["n"])
    return seen


async def test_a_client_that_never_reads_is_dropped_and_the_others_keep_up() -> None:
    async with running_sim() as sim, aiohttp.ClientSession() as slow_session:
        hub = sim.apps.spot[HUB_KEY]
        hub.paused = True  # only this test publishes
        hub.send_buffer = 200
        normal = await _subscribe(sim, sim.session)
        slow = await _subscribe(sim, slow_session)  # subscribed, then never reads again
        seen: list[int] = []
        reader = asyncio.create_task(_read_all(normal, seen))
        async with asyncio.timeout(60):  # on a stalled fan-out the reading client waits forever
            for n in range(FRAMES):
                # a live feed: the reading client stays within 100 frames of the newest
                while len(seen) < n - 100:
                    await asyncio.sleep(0.001)
                await hub.publish(Outgoing(TOPIC, "trade.ticker", {"n": n, "pad": PAD}))
            await reader
        assert seen == list(range(FRAMES))  # every message, in order
        assert hub.dropped_slow == 1
        assert len(hub.connections) == 1  # only the reading client is left
        assert {len(conns) for conns in hub.subscribers.values()} == {1}
        async with asyncio.timeout(60):  # reading now, the slow client finds its socket closed
            while (msg := await slow.receive()).type is aiohttp.WSMsgType.TEXT:
                pass
        assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
        await normal.close()


async def test_a_client_within_its_buffer_gets_everything_late() -> None:
    async with running_sim() as sim, aiohttp.ClientSession() as lazy_session:
        hub = sim.apps.spot[HUB_KEY]
        hub.paused = True
        lazy = await _subscribe(sim, lazy_session)
        for n in range(50):  # well inside the default buffer
            await hub.publish(Outgoing(TOPIC, "trade.ticker", {"n": n}))
        await asyncio.sleep(0.5)  # the client reads only now
        got = [json.loads((await lazy.receive(timeout=10)).data)["data"]["n"] for _ in range(50)]
        assert got == list(range(50))
        assert hub.dropped_slow == 0
        await lazy.close()
