"""Scale-out: orders/s and added p99 with one, two and three gateway instances on PostgreSQL.

What runs is the multi-instance deployment (``tests/helpers/netcluster.py``): the simulator as its
own process, three production-mode ``kcgateway serve`` processes, each in its own network
namespace at its own address, one fresh PostgreSQL database, Redis (the shared 127.0.0.1:6379,
relayed), three connected exchange accounts. Each round and each instance count n (1, 2, 3):
``BENCH_PAR_N`` spot orders (IOC buys below the market: answered, then cancelled by the
exchange) with ``IN_FLIGHT`` in flight, spread over the first n instances and the accounts,
through ``POST /v1/orders`` with an admin key. Measured per n: orders/s, the p99 latency of
those orders minus the p99 of the same orders sent straight to the simulator with
``KuCoinClient`` at the same concurrency (added p99), and the CPU per order of the instances in
use (user + system from /proc, all of it; the share they burn idle anyway, reconciler, streams
and risk refreshes, is reported beside it: subtracting it made small figures negative when the
idle rate varied).
Medians over ``BENCH_ROUNDS`` rounds. The peer is one instance: on this 2-core machine the
honest goal is that three instances do not lose throughput against one (``ratio >= 1.0``);
more instances add CPU per order (more processes compete for two cores), not capacity, until
there are more cores. Needs root (namespaces), iproute2 and PostgreSQL at 127.0.0.1:5432.
Run: ``.venv/bin/python bench/bench_scaleout.py`` (``BENCH_PAR_N``, ``BENCH_ROUNDS``).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from statistics import median
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_gateway import IOC, PRICES, cpu_seconds, pct
from scripts.exactly_once import _pg_admin, _pg_users, cancelled_on_signal
from tests.helpers.netcluster import Cluster, ClusterSpec, unavailable

from kcgateway.exchange.rest import Hosts, KuCoinClient
from kcgateway.exchange.transport import AiohttpTransport
from kcgateway.kucoin.signing import Credentials
from kcgateway.secret import Secret

PAR_N = int(os.environ.get("BENCH_PAR_N", "600"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
IN_FLIGHT = 24
WARMUP = 60
IDLE_S = 3.0
Place = Callable[[int], Awaitable[None]]


async def timed_rate(place: Place, n: int) -> tuple[float, list[float]]:
    """(orders/s, each order's latency in ms) for ``n`` orders with IN_FLIGHT in flight."""
    per_worker = n // IN_FLIGHT
    samples: list[float] = []

    async def worker(w: int) -> None:
        for i in range(per_worker):
            start = time.perf_counter()
            await place(w * per_worker + i)
            samples.append((time.perf_counter() - start) * 1000)

    start = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(IN_FLIGHT)))
    return per_worker * IN_FLIGHT / (time.perf_counter() - start), samples


REFUSED: dict[str, int] = {"risk": 0}


def gateway_place(cluster: Cluster, session: aiohttp.ClientSession, n: int) -> Place:
    """Order ``i`` through instance ``i mod n`` on account ``i mod accounts``.

    A risk refusal (a symbol's last price not yet polled by a fresh instance: ``stale_data``)
    is counted and reported, any other answer than 201 stops the benchmark.
    """

    async def place(i: int) -> None:
        body = {
            "account": cluster.accounts[i % len(cluster.accounts)], "symbol": "BTC-USDT",
            "side": "buy", "type": "limit", "price": str(PRICES[i % 100]), "size": "0.001",
            "timeInForce": "IOC",
        }  # fmt: skip
        url = f"{cluster.base(i % n)}/v1/orders"
        async with session.post(url, json=body, headers=cluster.headers) as resp:
            raw = await resp.read()
            if resp.status == 422 and b'"risk_rejected"' in raw:
                REFUSED["risk"] += 1
            elif resp.status != 201:
                raise RuntimeError(f"instance {i % n} answered {resp.status}: {await resp.text()}")

    return place


async def idle_cpu_rates(cluster: Cluster) -> list[float]:
    """CPU seconds per second each instance burns with no orders."""
    pids = [g.proc.pid for g in cluster.gateways if g.proc is not None]
    before, start = [cpu_seconds(p) for p in pids], time.perf_counter()
    await asyncio.sleep(IDLE_S)
    elapsed = time.perf_counter() - start
    return [(cpu_seconds(p) - b) / elapsed for p, b in zip(pids, before, strict=True)]


async def measure(cluster: Cluster) -> dict[str, Any]:
    """Every round's figures, then their medians."""
    rounds: dict[str, list[float]] = {}
    session = cluster.client_session(0, limit=IN_FLIGHT + 8)
    reply = await (await cluster.session.post(
        f"{cluster.sim_url}/_sim/accounts", json={"hf": True, "balances": {"USDT": "10000000"}}
    )).json()  # fmt: skip
    creds = Credentials(reply["apiKey"], Secret(reply["secret"]), Secret(reply["passphrase"]))
    hosts = Hosts(spot=cluster.sim_url, futures=cluster.sim_url, broker=cluster.sim_url)
    try:
        async with KuCoinClient(creds, transport=AiohttpTransport(), hosts=hosts) as client:

            async def direct(i: int) -> None:
                await client.spot.hf.place(
                    "BTC-USDT", "buy", price=PRICES[i % 100], size=Decimal("0.001"), options=IOC
                )

            places = {n: gateway_place(cluster, session, n) for n in (1, 2, 3)}
            for place in (direct, places[3]):
                await timed_rate(place, WARMUP)
            REFUSED["risk"] = 0  # warm-up refusals: each instance's first look at the symbol
            idle = await idle_cpu_rates(cluster)
            pids = [g.proc.pid for g in cluster.gateways if g.proc is not None]
            for r in range(ROUNDS):
                rate, samples = await timed_rate(direct, PAR_N)
                rounds.setdefault("direct_rate", []).append(rate)
                direct_p99 = pct(samples, 99)
                for n in (1, 2, 3) if r % 2 == 0 else (3, 2, 1):
                    cpu, start = [cpu_seconds(p) for p in pids[:n]], time.perf_counter()
                    rate, samples = await timed_rate(places[n], PAR_N)
                    elapsed = time.perf_counter() - start
                    used = zip(pids, cpu, strict=False)
                    busy = sum(cpu_seconds(p) - c for p, c in used)
                    rounds.setdefault(f"cpu_idle_ms_{n}", []).append(
                        sum(idle[:n]) * elapsed / PAR_N * 1000
                    )
                    rounds.setdefault(f"rate_{n}", []).append(rate)
                    rounds.setdefault(f"added_p99_{n}", []).append(pct(samples, 99) - direct_p99)
                    rounds.setdefault(f"cpu_ms_{n}", []).append(busy / PAR_N * 1000)
                rounds.setdefault("load", []).append(os.getloadavg()[0])
                print(f"  round {r + 1}: {_round_line(rounds)}", flush=True)
    finally:
        await session.close()
    return {name: median(values) for name, values in rounds.items()}


def _round_line(rounds: dict[str, list[float]]) -> str:
    parts = [
        f"{n} inst {rounds[f'rate_{n}'][-1]:.0f}/s p99+{rounds[f'added_p99_{n}'][-1]:.1f} ms "
        f"cpu {rounds[f'cpu_ms_{n}'][-1]:.2f} ms"
        for n in (1, 2, 3)
    ]
    tail = f"direct {rounds['direct_rate'][-1]:.0f}/s; load {rounds['load'][-1]:.1f}"
    return ", ".join(parts) + "; " + tail


async def run() -> dict[str, Any]:
    """A fresh database and cluster, measured, then removed (also on SIGINT/SIGTERM)."""
    user = await _pg_users("127.0.0.1", 5432)
    name = f"kcgw_bench_{secrets.token_hex(6)}"
    await _pg_admin("127.0.0.1", 5432, user, f'CREATE DATABASE "{name}"')
    work = Path(tempfile.mkdtemp(prefix="kcgw-bench-scaleout-"))
    try:
        async with aiohttp.ClientSession() as admin:
            url = f"postgresql+asyncpg://{user}@127.0.0.1:5432/{name}"
            cluster = Cluster(
                ClusterSpec(url, work, exchange_timeout_s=10.0, sim_tick_ms=200), admin
            )
            try:
                await cluster.start()
                return await measure(cluster)
            finally:
                cluster.stop()
    finally:
        await _pg_admin("127.0.0.1", 5432, user, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    """Measure and print the JSON line."""
    reason = unavailable()
    if reason is not None:
        raise SystemExit(f"cannot run: {reason}")
    f = asyncio.run(cancelled_on_signal(run()))
    ratio = f["rate_3"] / f["rate_1"]
    result = {
        "bench": "scaleout_orders_per_s", "unit": "orders/s (3 instances, PostgreSQL)",
        "ours": round(f["rate_3"], 1), "one_instance": round(f["rate_1"], 1),
        "ratio_vs_one_instance": round(ratio, 2), "two_instances": round(f["rate_2"], 1),
        "direct_to_exchange": round(f["direct_rate"]),
        "added_p99_ms": {n: round(f[f"added_p99_{n}"], 1) for n in (1, 2, 3)},
        "cpu_ms_per_order": {n: round(f[f"cpu_ms_{n}"], 2) for n in (1, 2, 3)},
        "of_which_idle_cpu_ms": {n: round(f[f"cpu_idle_ms_{n}"], 2) for n in (1, 2, 3)},
        "risk_refused": REFUSED["risk"], "in_flight": IN_FLIGHT, "cores": os.cpu_count(),
        "load_average": round(f["load"], 1),
        "goal": f"3 instances >= 1.0x one instance's orders/s on {os.cpu_count()} cores",
        "met": ratio >= 1.0,
    }  # fmt: skip
    print(json.dumps(result))


if __name__ == "__main__":
    main()
