"""KuCoin facade overhead: a signed limit order through the facade vs the same order through /v1.

One process holds the whole gateway (``tests/helpers/gateway.gateway_stack``: the embedded
simulator, SQLite, the vault, the risk engine on), its ``/v1`` app and its KuCoin facade app.
Both apps are called through httpx's ASGI transport (the whole app, middleware included, no
socket): on this machine a loopback HTTP round trip to uvicorn costs about 44 ms for ANY route
(``/healthz`` included; a delayed-ACK artefact), which would swamp what is compared. Three
clients place the same IOC buy below the market (nothing rests), sequentially:

- ``ours``: ``POST /api/v1/hf/orders`` to the facade, KuCoin-signed with gateway-issued
  facade credentials (one request per order, as ccxt sends it): signature
  verified by the vault, then the same order path as /v1;
- ``v1``: ``POST /v1/orders`` with a gateway key;
- ``direct_client``: ``KuCoinClient`` with a simulator key of its own, straight to the
  simulator (what the gateway adds to both).

The three are interleaved order by order (``BENCH_ROUNDS`` x ``BENCH_N`` orders each), so a load
spike or an fsync stall on this shared machine hits all of them alike; the verdict is on the
pooled samples.
Goal (issue 14): the facade's p99 at most 10% above /v1's p99.
Run: ``.venv/bin/python bench/bench_facade.py``; ends with one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from statistics import quantiles
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from tests.helpers.facade import issue
from tests.helpers.gateway import Stack, auth, gateway_stack, order_body

from kcgateway.exchange.rest import KuCoinClient
from kcgateway.exchange.services.orders import OrderOptions
from kcgateway.exchange.transport import AiohttpTransport
from kcgateway.facade.app import create_facade_app
from kcgateway.gateway.apikeys import Scope
from kcgateway.kucoin.signing import Credentials, sign_request
from kcgateway.main import settle_heap
from kcgateway.secret import Secret
from kcgateway.web.app import create_app

N = int(os.environ.get("BENCH_N", "150"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
WARMUP = 20
GOAL_RATIO = 1.10
IOC = OrderOptions(time_in_force="IOC")
Place = Callable[[int], Awaitable[None]]


def pct(samples: list[float], q: int) -> float:
    return quantiles(samples, n=100, method="inclusive")[q - 1]


def asgi(app: Any) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://gateway")


async def timed(place: Place, n: int, offset: int) -> list[float]:
    samples = []
    for i in range(n):
        start = time.perf_counter()
        await place(offset + i)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def kucoin_place(client: KuCoinClient) -> Place:
    async def place(i: int) -> None:
        await client.spot.hf.place(
            "BTC-USDT", "buy", price=Decimal(1000 + i % 100), size=Decimal("0.001"), options=IOC
        )

    return place


def facade_place(session: httpx.AsyncClient, creds: Credentials) -> Place:
    async def place(i: int) -> None:
        body = json.dumps(
            {"clientOid": f"f{i}-{os.getpid()}", "side": "buy", "symbol": "BTC-USDT",
             "type": "limit", "price": str(1000 + i % 100), "size": "0.001",
             "timeInForce": "IOC"},
            separators=(",", ":"),
        ).encode()  # fmt: skip
        path = "/api/v1/hf/orders"
        headers = sign_request(
            creds, method="POST", path=path, body=body, timestamp_ms=int(time.time() * 1000)
        )
        headers["Content-Type"] = "application/json"
        resp = await session.post(path, content=body, headers=headers)
        assert resp.status_code == 200 and b'"200000"' in resp.content, resp.content

    return place


def v1_place(session: httpx.AsyncClient, key: str) -> Place:
    async def place(i: int) -> None:
        body = order_body("main", price=str(1000 + i % 100), timeInForce="IOC")
        resp = await session.post("/v1/orders", json=body, headers=auth(key))
        assert resp.status_code == 201, resp.text

    return place


async def measure(stack: Stack) -> dict[str, list[float]]:
    tenant = await stack.add_tenant("bench")
    creds = await issue(stack, tenant, Scope.READ, Scope.TRADE_SPOT)
    key = await stack.key(tenant, Scope.READ, Scope.TRADE_SPOT)
    plain = stack.sim.create_account({"hf": True, "balances": {"USDT": "10000000"}})
    assert stack.services.facade is not None
    facade_creds = Credentials(creds.api_key, Secret(creds.secret), Secret(creds.passphrase))
    direct_creds = Credentials(
        plain["apiKey"], Secret(plain["secret"]), Secret(plain["passphrase"])
    )
    samples: dict[str, list[float]] = {"ours": [], "v1": [], "direct_client": []}
    async with (
        asgi(create_app(stack.services)) as v1,
        asgi(create_facade_app(stack.services.facade)) as facade,
        KuCoinClient(direct_creds, transport=AiohttpTransport(), hosts=stack.sim.hosts) as direct,
    ):
        places = {"ours": facade_place(facade, facade_creds), "v1": v1_place(v1, key),
                  "direct_client": kucoin_place(direct)}  # fmt: skip
        for place in places.values():
            await timed(place, WARMUP, 0)
        settle_heap()
        for i in range(ROUNDS * N):  # interleaved order by order: a stall hits all three
            for name, place in places.items():
                samples[name] += await timed(place, 1, WARMUP + i)
    return samples


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with gateway_stack(Path(tmp), timeout_s=5.0) as stack:
            samples = await measure(stack)
    p99 = {name: pct(values, 99) for name, values in samples.items()}
    p50 = {name: pct(values, 50) for name, values in samples.items()}
    for name in samples:
        print(
            f"{name:14s} p50 {p50[name]:.2f} ms  p99 {p99[name]:.2f} ms  (n={len(samples[name])})"
        )
    ratio = p99["ours"] / p99["v1"]
    result = {
        "bench": "facade_signed_limit_order_p99",
        "unit": "ms",
        "ours": round(p99["ours"], 2),
        "v1": round(p99["v1"], 2),
        "ratio_vs_v1": round(ratio, 3),
        "direct_client": round(p99["direct_client"], 2),
        "ours_p50": round(p50["ours"], 2),
        "v1_p50": round(p50["v1"], 2),
        "load_average": round(os.getloadavg()[0], 1),
        "goal": f"facade p99 <= {GOAL_RATIO} x /v1 p99 (same order, same process, same run)",
        "met": ratio <= GOAL_RATIO,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
