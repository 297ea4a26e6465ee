"""End-to-end book streaming lag: kcgateway's BookFeed vs a bare aiohttp socket reader.

One simulator on loopback (market makers on the 6 default spot symbols ticking every 5 ms, the
WebSocket pump draining every 20 ms) feeds, in the same run and process, two subscribers of the
same ``/market/level2`` topics:

- ``ours``: ``BookFeed`` (WsSession + L2Synchronizer + REST snapshots), lag taken by the
  ``StreamMetrics.lag`` hook when each delta has been applied to its book;
- ``raw``: an aiohttp WebSocket that only ``json.loads`` each frame (the floor any client pays).

Lag = local wall clock when handled - the delta's ``time`` (the engine's event time), so it
includes the pump's 20 ms batching for both. Reported: p99 lag in ms over ~10 s, plus how many
level updates our books applied. Run: ``.venv/bin/python bench/bench_stream.py``.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
from tests.integration.sim_client import client
from tests.kucoin_sim.harness import running_sim

from kcgateway.exchange.book_feed import BookFeed
from kucoin_sim.config import SimConfig

SYMBOLS = ["BTC-USDT", "ETH-USDT", "ETH-BTC", "KCS-USDT", "SOL-USDT", "XRP-USDT"]
SECONDS = 10.0


class Lags:
    """StreamMetrics collecting lag samples."""

    def __init__(self) -> None:
        self.samples: list[int] = []

    def reconnected(self, reason: str) -> None:
        """Unused."""

    def gap(self, symbol: str) -> None:
        """Unused."""

    def resynced(self, symbol: str) -> None:
        """Unused."""

    def lag(self, symbol: str, lag_ms: int) -> None:
        """Record one sample."""
        self.samples.append(lag_ms)


def p99(samples: list[int]) -> float:
    return statistics.quantiles(samples, n=100)[98]


async def raw_reader(sim_spot: str, http: aiohttp.ClientSession, out: list[int]) -> None:
    async with http.post(sim_spot + "/api/v1/bullet-public") as resp:
        token = (await resp.json())["data"]["token"]
    url = sim_spot.replace("http", "ws") + f"/endpoint?token={token}&connectId=raw"
    async with http.ws_connect(url) as ws:
        topic = "/market/level2:" + ",".join(SYMBOLS)
        await ws.send_str(json.dumps({"id": "1", "type": "subscribe", "topic": topic}))
        async for msg in ws:
            frame = json.loads(msg.data)
            if frame.get("type") == "message":
                out.append(time.time_ns() // 1_000_000 - frame["data"]["time"])


async def main() -> None:
    async with running_sim(SimConfig(tick_ms=5)) as sim:
        account = await sim.account(hf=True)
        lags, raw = Lags(), []
        applied = 0

        def count(book: object) -> None:
            nonlocal applied
            applied += 1

        async with (
            client(sim, account) as rest,
            BookFeed(rest, metrics=lags) as feed,
            aiohttp.ClientSession() as http,
        ):
            feed.on_book(count)
            await feed.watch(*SYMBOLS)
            reader = asyncio.ensure_future(raw_reader(sim.spot, http, raw))
            await asyncio.sleep(SECONDS)
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
    ours, peer = p99(lags.samples), p99(raw)
    print(
        f"# {len(lags.samples)} deltas applied ({applied} book changes), {len(raw)} raw frames",
        file=sys.stderr,
    )
    print(
        json.dumps(
            {
                "bench": "stream_l2_lag_p99",
                "unit": "ms",
                "ours": round(ours, 1),
                "raw_aiohttp": round(peer, 1),
                "ratio_vs_raw_aiohttp": round(ours / peer, 2) if peer else None,
                "goal": "p99 lag within 1.5x of a bare socket reader",
                "met": peer > 0 and ours <= 1.5 * peer,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
