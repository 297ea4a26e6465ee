"""Signal bots: acknowledgement and signal-to-exchange latency at 50 signals/s.

Same run, same process, same ASGI transport (httpx ``ASGITransport``, no sockets), same machine:

- ``bare_fastapi``: a FastAPI app whose one route reads the body and parses the JSON;
- ``ours``: ``POST /v1/signals/{botId}`` of the whole gateway (``tests/helpers/gateway.py``:
  SQLite file, vault, risk engine, the in-process simulator as the exchange) with a Standard
  Webhooks bot in paper mode: body cap, bot and sealed secrets read, signature verified (DEK
  unwrap + decrypt), replay id and queue row committed, then ``202``.

Signals are sent at 50 per second (each one at its scheduled time, not after the previous
answer), round-robin over ``BENCH_BOTS`` bots (10: 5 signals/s each), buy and sell
alternating per bot. Reported: ack p50/p99 (send -> 202) for both, and
signal-to-exchange p50/p99 (send -> the exchange acknowledged the order the signal became,
through the executor's lane, the order router and the risk engine). Goals (issue 17): ack p99
< 20 ms and signal-to-exchange p99 < 50 ms on SQLite; ``met`` says whether this run reached
both. Run: ``.venv/bin/python bench/bench_signals.py`` (``BENCH_SIGNALS=N`` signals, 300).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from statistics import quantiles
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from fastapi import FastAPI, Request
from tests.helpers.gateway import gateway_stack
from tests.helpers.signals import add_paper_account, create_bot, standard_request

from kcgateway.gateway.apikeys import Scope

N = int(os.environ.get("BENCH_SIGNALS", "300"))
BOTS = int(os.environ.get("BENCH_BOTS", "10"))
RATE = 50.0
GOAL_ACK_P99_MS = 20.0
GOAL_EXCHANGE_P99_MS = 50.0


def _pct(values: list[float]) -> tuple[float, float]:
    cuts = quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[98]


def _bare() -> FastAPI:
    app = FastAPI()

    @app.post("/signals/{bot_id}")
    async def signal(bot_id: str, request: Request) -> dict[str, str]:
        json.loads(await request.body())
        return {"signalId": bot_id, "status": "queued"}

    return app


async def _paced(send: Any, bodies: list[Any]) -> list[float]:
    """Send each body at its slot (50/s); each answer's latency in ms."""
    start = time.perf_counter()
    out: list[float] = []

    async def one(i: int, body: Any) -> None:
        await asyncio.sleep(max(0.0, start + i / RATE - time.perf_counter()))
        t0 = time.perf_counter()
        await send(i, body, t0)
        out.append((time.perf_counter() - t0) * 1000)

    await asyncio.gather(*(one(i, b) for i, b in enumerate(bodies)))
    return out


async def _bare_run() -> list[float]:
    transport = httpx.ASGITransport(app=_bare())
    async with httpx.AsyncClient(transport=transport, base_url="http://bare") as http:
        body = json.dumps({"action": "buy", "symbol": "BTC-USDT"}).encode()

        async def send(_i: int, raw: bytes, _t0: float) -> None:
            resp = await http.post("/signals/x", content=raw)
            assert resp.status_code == 200

        return await _paced(send, [body] * N)


async def _ours() -> tuple[list[float], list[float]]:
    with tempfile.TemporaryDirectory() as tmp:
        async with gateway_stack(Path(tmp)) as stack:
            tenant = await stack.add_tenant("bench")
            await add_paper_account(stack, tenant)
            key = await stack.key(tenant, Scope.BOTS_MANAGE)
            bots_made = [
                await create_bot(stack, key, "standard", maxPosition="1000") for _ in range(BOTS)
            ]
            bots = stack.services.signals
            assert bots is not None
            sent: dict[str, float] = {}
            reached: dict[str, float] = {}
            place = stack.services.orders.place

            async def timed_place(*args: Any, **kw: Any) -> Any:
                view = await place(*args, **kw)
                reached[view.client_oid] = time.perf_counter()
                return view

            stack.services.orders.place = timed_place  # type: ignore[method-assign]
            sides = ["buy", "sell"]
            requests = [
                standard_request(
                    bots_made[i % BOTS]["secret"],
                    {"action": sides[(i // BOTS) % 2], "symbol": "BTC-USDT"},
                )
                for i in range(N)
            ]

            async def send(i: int, req: tuple[bytes, dict[str, str]], t0: float) -> None:
                bot = bots_made[i % BOTS]
                resp = await stack.http.post(
                    f"/v1/signals/{bot['id']}", content=req[0], headers=req[1]
                )
                assert resp.status_code == 202, resp.text
                sent["sig-" + resp.json()["signalId"].replace("-", "")] = t0

            acks = await _paced(send, requests)
            await bots.executor.drain()
            to_exchange = [(reached[oid] - t0) * 1000 for oid, t0 in sent.items() if oid in reached]
            assert len(to_exchange) == N, f"{len(to_exchange)} of {N} signals reached the exchange"
            return acks, to_exchange


async def main() -> None:
    bare = await _bare_run()
    acks, to_exchange = await _ours()
    (bare50, bare99), (ack50, ack99), (ex50, ex99) = _pct(bare), _pct(acks), _pct(to_exchange)
    met = ack99 < GOAL_ACK_P99_MS and ex99 < GOAL_EXCHANGE_P99_MS
    print(
        json.dumps(
            {
                "bench": "signals",
                "unit": "ms (ack p99)",
                "ours": round(ack99, 2),
                "bare_fastapi": round(bare99, 2),
                "ratio_vs_bare_fastapi": round(ack99 / bare99, 1) if bare99 else None,
                "ack_p50_ms": round(ack50, 2),
                "bare_fastapi_p50_ms": round(bare50, 2),
                "signal_to_exchange_p50_ms": round(ex50, 2),
                "signal_to_exchange_p99_ms": round(ex99, 2),
                "signals": N,
                "bots": BOTS,
                "rate_per_s": RATE,
                "load_average": round(os.getloadavg()[0], 1),
                "goal": f"ack p99 < {GOAL_ACK_P99_MS:g} ms and signal-to-exchange p99 < "
                f"{GOAL_EXCHANGE_P99_MS:g} ms at {RATE:g} signals/s on SQLite",
                "met": met,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
