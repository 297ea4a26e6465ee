"""KuCoin facade overhead, as a bot sees it: a signed limit order through ``kcgateway serve``'s
facade listener vs the same order through its ``/v1`` API vs straight to the exchange.

What runs is what a user runs: ``kcgateway serve --kucoin-port`` started as its own process
(dev mode, a fresh data directory, its embedded simulator as the exchange, its background work
on: reconciler, private streams, market makers), driven from this process over loopback TCP
with keep-alive aiohttp sessions, one per side. Setup goes through serve's own HTTP API with
its one-time admin key: a bot key (read, trade:spot) and its KuCoin credentials
(``POST /v1/keys/{id}/kucoin-credentials`` on the demo ``paper`` account). Three sides place
the same IOC buy far below the market (answered, then cancelled by the exchange):

- ``ours``: ``POST /api/v1/hf/orders`` to the facade port, KuCoin-signed (HMAC, v3
  passphrase) with the gateway-issued credentials, as ccxt sends it: the real authentication
  path (header checks, the credential row, the vault's signature check, the gateway key's
  expiry, IP allow-list and scope), the facade's rate budget, then the /v1 order path;
- ``v1``: ``POST /v1/orders`` with the same bot's gateway key;
- ``direct_client``: ``KuCoinClient`` with a simulator account of its own, straight to the
  simulator (what the gateway adds to both).

The three are interleaved order by order (``BENCH_ROUNDS`` x ``BENCH_N`` orders each) so a load
spike on this shared machine hits all alike; the verdict is on the pooled samples. The gateway's
risk limits are raised for the bench key as an operator would for such a bot (every check stays
on) and the facade key's rate quota is VIP 12's, so neither refuses the bench.
Goal (issue 14): the facade's p99 at most 10% above /v1's p99.
Run: ``.venv/bin/python bench/bench_facade.py``; ends with one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from statistics import quantiles
from typing import Any

import aiohttp

from bench_gateway import Serve, bench_limits, free_port, wait_ready
from kcgateway.exchange.rest import Hosts, KuCoinClient
from kcgateway.exchange.services.orders import OrderOptions
from kcgateway.exchange.transport import AiohttpTransport
from kcgateway.kucoin.signing import Credentials, sign_request
from kcgateway.secret import Secret

N = int(os.environ.get("BENCH_N", "150"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
WARMUP = 30
GOAL_RATIO = 1.10
IOC = OrderOptions(time_in_force="IOC")
PRICES = [Decimal(50000 - i) for i in range(100)]  # far below the market: never fills
Place = Callable[[int], Awaitable[None]]


def pct(samples: list[float], q: int) -> float:
    return quantiles(samples, n=100, method="inclusive")[q - 1]


async def timed(place: Place, i: int) -> float:
    start = time.perf_counter()
    await place(i)
    return (time.perf_counter() - start) * 1000


async def post_json(
    session: aiohttp.ClientSession, url: str, body: Any, headers: dict[str, str]
) -> dict[str, Any]:
    async with session.post(url, json=body, headers=headers) as resp:
        answer = await resp.json(content_type=None)
        if resp.status not in (200, 201):
            raise RuntimeError(f"{url} answered {resp.status}: {answer}")
        return dict(answer)


async def setup(serve: Serve, session: aiohttp.ClientSession) -> tuple[str, Credentials]:
    """A bot key (read, trade:spot) and its facade credentials on ``paper``, via serve's API."""
    admin = {"Authorization": f"Bearer {serve.key}"}
    await bench_limits(session, serve.base, admin)
    made = await post_json(
        session, serve.base + "/v1/keys", {"owner": "bench bot", "scopes": ["read", "trade:spot"]},
        admin,
    )  # fmt: skip
    creds = await post_json(
        session, f"{serve.base}/v1/keys/{made['keyId']}/kucoin-credentials", {"account": "paper"},
        admin,
    )  # fmt: skip
    facade = Credentials(creds["apiKey"], Secret(creds["secret"]), Secret(creds["passphrase"]))
    return str(made["key"]), facade


def facade_place(session: aiohttp.ClientSession, base: str, creds: Credentials) -> Place:
    path = "/api/v1/hf/orders"

    async def place(i: int) -> None:
        body = json.dumps(
            {"clientOid": f"f{i}-{os.getpid()}", "side": "buy", "symbol": "BTC-USDT",
             "type": "limit", "price": str(PRICES[i % 100]), "size": "0.001",
             "timeInForce": "IOC"},
            separators=(",", ":"),
        ).encode()  # fmt: skip
        headers = sign_request(
            creds, method="POST", path=path, body=body, timestamp_ms=int(time.time() * 1000)
        )
        headers["Content-Type"] = "application/json"
        async with session.post(base + path, data=body, headers=headers) as resp:
            content = await resp.read()
            if resp.status != 200 or b'"200000"' not in content:
                raise RuntimeError(f"facade answered {resp.status}: {content[:300]!r}")

    return place


def v1_place(session: aiohttp.ClientSession, base: str, key: str) -> Place:
    headers = {"Authorization": f"Bearer {key}"}

    async def place(i: int) -> None:
        body = {"account": "paper", "symbol": "BTC-USDT", "side": "buy", "type": "limit",
                "price": str(PRICES[i % 100]), "size": "0.001", "timeInForce": "IOC"}  # fmt: skip
        async with session.post(base + "/v1/orders", json=body, headers=headers) as resp:
            await resp.read()
            if resp.status != 201:
                raise RuntimeError(f"/v1 answered {resp.status}: {await resp.text()}")

    return place


def direct_place(client: KuCoinClient) -> Place:
    async def place(i: int) -> None:
        await client.spot.hf.place(
            "BTC-USDT", "buy", price=PRICES[i % 100], size=Decimal("0.001"), options=IOC
        )

    return place


async def measure(serve: Serve, facade_base: str) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {"ours": [], "v1": [], "direct_client": []}
    async with (
        aiohttp.ClientSession() as admin,
        aiohttp.ClientSession() as bot_facade,
        aiohttp.ClientSession() as bot_v1,
    ):
        await wait_ready(admin, serve.base + "/v1/orders")
        await wait_ready(admin, facade_base + "/api/v1/timestamp")
        key, facade_creds = await setup(serve, admin)
        account = await post_json(
            admin, serve.exchange + "/_sim/accounts",
            {"hf": True, "balances": {"USDT": "10000000"}}, {},
        )  # fmt: skip
        account = account.get("data", account)
        direct_creds = Credentials(
            account["apiKey"], Secret(account["secret"]), Secret(account["passphrase"])
        )
        hosts = Hosts(spot=serve.exchange, futures=serve.exchange, broker=serve.exchange)
        async with KuCoinClient(direct_creds, transport=AiohttpTransport(), hosts=hosts) as direct:
            places = {
                "ours": facade_place(bot_facade, facade_base, facade_creds),
                "v1": v1_place(bot_v1, serve.base, key),
                "direct_client": direct_place(direct),
            }
            for place in places.values():
                for i in range(WARMUP):
                    await timed(place, i)
            for i in range(ROUNDS * N):  # interleaved order by order: a stall hits all three
                for name, place in places.items():
                    samples[name].append(await timed(place, WARMUP + i))
    return samples


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        port, facade_port = free_port(), free_port()
        env = {"KCGW_KUCOIN_PORT": str(facade_port), "KCGW_KUCOIN_FACADE_VIP": "12"}
        serve = Serve(data_dir, port, env)
        try:
            serve.read_banner()
            samples = asyncio.run(measure(serve, f"http://127.0.0.1:{facade_port}"))
        finally:
            serve.stop()
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
        "ratio_vs_direct_client": round(p99["ours"] / p99["direct_client"], 2),
        "ours_p50": round(p50["ours"], 2),
        "v1_p50": round(p50["v1"], 2),
        "direct_client_p50": round(p50["direct_client"], 2),
        "n": len(samples["ours"]),
        "load_average": round(os.getloadavg()[0], 1),
        "goal": f"facade p99 <= {GOAL_RATIO} x /v1 p99 (kcgateway serve in its own process, "
        "loopback TCP, the same order, interleaved)",
        "met": ratio <= GOAL_RATIO,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
