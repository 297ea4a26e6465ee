"""Book streaming: the client's own share of the lag, kcgateway's BookFeed vs a bare floor.

One simulator (this process, on loopback; market makers on the 6 default spot symbols ticking
every 5 ms, its WebSocket pump sending every 20 ms) feeds the same ``/market/level2`` topics to
two subscribers, each in a process of its own (so neither waits behind the other's work):

- ``ours``: ``BookFeed`` (WsSession + L2Synchronizer + REST snapshots); a frame counts as
  delivered when the feed reports it applied to its book (the ``StreamMetrics.lag`` hook, called
  right after ``receive_delta``, before the book callbacks);
- ``floor``: a bare aiohttp WebSocket that decodes each frame (``msgspec.json.decode``), checks
  that its sequence follows the last one (a client that does not cannot trust its book) and
  applies its changes to a plain dict per side: the least any client must do with a frame.

The lag measured is the client's own: from the frame's arrival to its delivery. A frame's
arrival is when the WebSocket read that brought it returned: the ``receive()`` call that had to
wait for data; frames of the same burst (the simulator sends a batch every 20 ms) arrived with
the first one and also count the time they queue behind their predecessors, which is the
client's doing. The simulator's batching and the engine's event time are no longer part of it.
Reported: p50 and p99 of that lag per side over ``SECONDS``, frames handled, load average.
Goal: ours p99 within 1.5x the floor's p99.
Run: ``.venv/bin/python bench/bench_stream.py`` (``BENCH_SECONDS``).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import msgspec

SYMBOLS = ["BTC-USDT", "ETH-USDT", "ETH-BTC", "KCS-USDT", "SOL-USDT", "XRP-USDT"]
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
WAITED_S = 50e-6  # a receive() that took longer than this waited for the socket


class Arrivals:
    """Wraps ``ClientWebSocketResponse.receive`` in this process: when did the frame arrive?"""

    def __init__(self) -> None:
        self.current = 0.0  # perf_counter of the read that brought the frame being handled

    def install(self) -> None:
        original = aiohttp.ClientWebSocketResponse.receive
        arrivals = self

        async def receive(ws: aiohttp.ClientWebSocketResponse, *a: Any, **kw: Any) -> Any:
            called = time.perf_counter()
            msg = await original(ws, *a, **kw)
            returned = time.perf_counter()
            if returned - called > WAITED_S or arrivals.current == 0.0:
                arrivals.current = returned  # it waited: a new burst arrived now
            return msg

        aiohttp.ClientWebSocketResponse.receive = receive  # type: ignore[method-assign]


def summary(samples_ms: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples_ms, n=100)
    return {"p50": cuts[49], "p99": cuts[98], "n": len(samples_ms)}


async def run_ours(spot: str, account: dict[str, str], arrivals: Arrivals) -> list[float]:
    from kcgateway.exchange.book_feed import BookFeed
    from kcgateway.exchange.rest import Hosts, KuCoinClient
    from kcgateway.kucoin.signing import Credentials
    from kcgateway.secret import Secret

    samples: list[float] = []

    class Lags:
        def reconnected(self, reason: str) -> None:
            """Unused."""

        def gap(self, symbol: str) -> None:
            """Unused."""

        def resynced(self, symbol: str) -> None:
            """Unused."""

        def lag(self, symbol: str, lag_ms: int) -> None:
            samples.append((time.perf_counter() - arrivals.current) * 1000)

    creds = Credentials(account["apiKey"], Secret(account["secret"]), Secret(account["passphrase"]))
    hosts = Hosts(spot=spot, futures=spot, broker=spot)
    async with KuCoinClient(creds, hosts=hosts) as rest, BookFeed(rest, metrics=Lags()) as feed:
        await feed.watch(*SYMBOLS)
        await asyncio.sleep(SECONDS)
    return samples


async def run_floor(spot: str, account: dict[str, str], arrivals: Arrivals) -> list[float]:
    samples: list[float] = []
    books: dict[str, tuple[dict[str, str], dict[str, str]]] = {s: ({}, {}) for s in SYMBOLS}
    last_seq: dict[str, int] = {}
    gaps = 0
    decode = msgspec.json.decode
    async with aiohttp.ClientSession() as http:
        async with http.post(spot + "/api/v1/bullet-public") as resp:
            token = (await resp.json())["data"]["token"]
        url = spot.replace("http", "ws") + f"/endpoint?token={token}&connectId=floor"
        async with http.ws_connect(url) as ws:
            topic = "/market/level2:" + ",".join(SYMBOLS)
            await ws.send_str(json.dumps({"id": "1", "type": "subscribe", "topic": topic}))
            deadline = time.perf_counter() + SECONDS
            while time.perf_counter() < deadline:
                try:
                    msg = await ws.receive(timeout=max(deadline - time.perf_counter(), 0.001))
                except TimeoutError:
                    break
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    break
                frame = decode(msg.data)
                if frame.get("type") != "message":
                    continue
                data = frame["data"]
                symbol = data["symbol"]
                previous = last_seq.get(symbol)
                if previous is not None and data["sequenceStart"] > previous + 1:
                    gaps += 1  # a real client would fetch a snapshot here
                last_seq[symbol] = data["sequenceEnd"]
                bids, asks = books[symbol]
                changes = data["changes"]
                for side, levels in ((bids, changes["bids"]), (asks, changes["asks"])):
                    for price, size, _seq in levels:
                        if size == "0":
                            side.pop(price, None)
                        else:
                            side[price] = size
                samples.append((time.perf_counter() - arrivals.current) * 1000)
    return samples


def child(side: str, spot: str, account_json: str) -> None:
    arrivals = Arrivals()
    arrivals.install()
    run: Callable[[str, dict[str, str], Arrivals], Awaitable[list[float]]]
    run = run_ours if side == "ours" else run_floor
    profile_to = os.environ.get("BENCH_PROFILE_DIR")  # cProfile each side into this directory
    if profile_to:
        import cProfile

        with cProfile.Profile() as prof:
            samples = asyncio.run(run(spot, json.loads(account_json), arrivals))
        prof.dump_stats(str(Path(profile_to) / f"stream_{side}.prof"))
    else:
        samples = asyncio.run(run(spot, json.loads(account_json), arrivals))
    print(json.dumps(summary(samples)))


async def parent() -> dict[str, dict[str, float]]:
    from tests.kucoin_sim.harness import running_sim

    from kucoin_sim.config import SimConfig

    async with running_sim(SimConfig(tick_ms=5)) as sim:
        account = await sim.account(hf=True)
        procs = {
            side: await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "--child",
                side,
                sim.spot,
                json.dumps(account),
                stdout=subprocess.PIPE,
            )
            for side in ("ours", "floor")
        }
        results = {}
        for side, proc in procs.items():
            out, _ = await proc.communicate()
            if proc.returncode != 0:
                raise RuntimeError(f"the {side} subscriber failed ({proc.returncode})")
            results[side] = json.loads(out.decode().strip().splitlines()[-1])
    return results


def main() -> None:
    results = asyncio.run(parent())
    ours, floor = results["ours"], results["floor"]
    for side, figures in results.items():
        print(
            f"{side:6s} p50 {figures['p50']:.3f} ms  p99 {figures['p99']:.3f} ms  "
            f"({figures['n']:.0f} frames)",
            file=sys.stderr,
        )
    met = ours["p99"] <= 1.5 * floor["p99"]
    print(
        json.dumps(
            {
                "bench": "stream_l2_client_lag_p99",
                "unit": "ms from a frame's arrival to its delivery",
                "ours": round(ours["p99"], 3),
                "floor": round(floor["p99"], 3),
                "ratio_vs_floor": round(ours["p99"] / floor["p99"], 2) if floor["p99"] else None,
                "ours_p50": round(ours["p50"], 3),
                "floor_p50": round(floor["p50"], 3),
                "ours_frames": ours["n"],
                "floor_frames": floor["n"],
                "load_average": round(os.getloadavg()[0], 1),
                "goal": "client's own p99 lag within 1.5x of a bare decode, sequence-check and "
                "apply floor",
                "met": met,
            }
        )
    )


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        main()
