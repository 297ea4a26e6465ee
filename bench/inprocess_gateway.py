"""In-process gateway harness for ``profile_gateway_phases.py`` (not a benchmark: no verdict).

``bench_gateway.py`` measures ``kcgateway serve`` as its own process; this module keeps the
gateway, uvicorn and the simulator in one process so a profiler can wrap the gateway's phases.
Background work (reconciler, private order streams) runs unless ``BENCH_BACKGROUND=0``.

Gateway overhead: placing a spot order through kcgateway's HTTP API vs the client direct.

Same run, same in-process simulator (market makers off), same machine:

- ``direct_client``: ``KuCoinClient(credentials).spot.hf.place(...)`` against the simulator;
- ``ours``: ``POST /v1/orders`` to the gateway served by uvicorn on loopback (aiohttp client,
  keep-alive): key check, intent persisted and committed (SQLite, WAL), audit records, the
  vault signer (DEK unwrap + decrypt per request), the same client call, state updates.

Reported: p50 and p99 per order in ms for both, the added p50 and p99, the pure key-check cost
(parse + checksum + HMAC compare) in microseconds, and the process CPU time per order of both
runs (client, server and simulator share this process, so the difference is the CPU the
gateway adds: on a shared, loaded machine wall-clock percentiles mostly measure the other
processes, CPU per order does not), and the involuntary context switches per order (each one
costs the order a scheduler time slice, several ms, when other processes want the CPU).
Goal (issue 7): added p99 under 5 ms on SQLite and the key
check under 50 us; ``met`` says whether this run reached both.
Run: ``.venv/bin/python bench/bench_gateway.py``. The issue's pipeline is measured with the
gateway's background work off; ``BENCH_BACKGROUND=1`` also runs the reconciler and the private
order streams, as ``kcgateway serve`` does (each order's events then take loop time too).
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import secrets
import socket
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from statistics import quantiles

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import uvicorn
from tests.helpers.gateway import Stack, auth, order_body

from kcgateway.devmode import EmbeddedSim
from kcgateway.exchange.rest import KuCoinClient
from kcgateway.exchange.services.orders import OrderOptions
from kcgateway.exchange.transport import AiohttpTransport
from kcgateway.gateway import apikeys
from kcgateway.kucoin.signing import Credentials
from kcgateway.main import build_services, open_store, settle_heap
from kcgateway.secret import Secret
from kcgateway.settings import Settings
from kcgateway.vault.kek import KeyRing, LocalKek
from kcgateway.web.app import create_app

N = int(os.environ.get("BENCH_N", "300"))
WARMUP = 20
GOAL_ADDED_P99_MS = 5.0  # issue 7: p99 added latency under 5 ms on SQLite
GOAL_KEY_CHECK_US = 50.0  # issue 7: key check under 50 us
IOC = OrderOptions(time_in_force="IOC")  # nothing rests: no open-order limit is reached


def pct(samples: list[float], q: int) -> float:
    return quantiles(samples, n=100)[q - 1]


def key_check_us() -> float:
    pepper = Secret(secrets.token_hex(32))
    issued = apikeys.issue_key(pepper)
    full = issued.full.reveal()
    rounds = 20_000
    start = time.perf_counter()
    for _ in range(rounds):
        presented = apikeys.parse_key(full)
        assert presented is not None
        assert apikeys.secret_matches(pepper, presented, issued.secret_hash)
    return (time.perf_counter() - start) / rounds * 1e6


CPU_MS: dict[str, float] = {}  # process CPU time per order (client, server and simulator)
#: involuntary context switches per order: how often the OS took the CPU away mid-order
PREEMPTED: dict[str, float] = {}


def preemptions() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw


async def direct(sim: EmbeddedSim, account: dict[str, str]) -> list[float]:
    creds = Credentials(account["apiKey"], Secret(account["secret"]), Secret(account["passphrase"]))
    samples = []
    cpu, switched = 0.0, 0
    async with KuCoinClient(creds, transport=AiohttpTransport(), hosts=sim.hosts) as client:
        for i in range(N + WARMUP):
            if i == WARMUP:
                cpu, switched = time.process_time(), preemptions()
            start = time.perf_counter()
            await client.spot.hf.place(
                "BTC-USDT",
                "buy",
                price=Decimal(60000 - i % 100),
                size=Decimal("0.001"),
                options=IOC,
            )
            if i >= WARMUP:
                samples.append((time.perf_counter() - start) * 1000)
    CPU_MS["direct_client"] = (time.process_time() - cpu) / N * 1000
    PREEMPTED["direct_client"] = (preemptions() - switched) / N
    return samples


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def through_gateway(stack: Stack, key: str, port: int) -> list[float]:
    samples = []
    url = f"http://127.0.0.1:{port}/v1/orders"
    cpu, switched = 0.0, 0
    async with aiohttp.ClientSession() as session:
        for i in range(N + WARMUP):
            if i == WARMUP:
                cpu, switched = time.process_time(), preemptions()
            body = order_body("main", price=str(60000 - i % 100), timeInForce="IOC")
            start = time.perf_counter()
            async with session.post(url, json=body, headers=auth(key)) as resp:
                await resp.read()
                assert resp.status == 201, await resp.text()
            if i >= WARMUP:
                samples.append((time.perf_counter() - start) * 1000)
    CPU_MS["ours"] = (time.process_time() - cpu) / N * 1000
    PREEMPTED["ours"] = (preemptions() - switched) / N
    return samples


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sim = await EmbeddedSim.start(seed=3, tick_ms=0)
        settings = Settings(data_dir=Path(tmp))
        db = await open_store(settings)
        ring = KeyRing(LocalKek(os.urandom(32)))
        services = build_services(settings, db, ring, Secret(secrets.token_hex(32)), sim.hosts)
        app = create_app(services)
        stack = Stack(sim, services, app, None, aiohttp.ClientSession())  # type: ignore[arg-type]
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        )
        serving = asyncio.create_task(server.serve())
        try:
            while not server.started:
                await asyncio.sleep(0.05)
            tenant = await stack.add_tenant("bench")
            plain = sim.create_account({"hf": True, "balances": {"USDT": "10000000"}})
            if os.environ.get("BENCH_BACKGROUND", "1") == "1":  # reconciler + order streams
                services.start()
            settle_heap()  # as `kcgateway serve`, once start-up is done
            ours = await through_gateway(stack, tenant.admin_key, port)
            theirs = await direct(sim, plain)
        finally:
            server.should_exit = True
            await serving
            await stack.session.close()
            await services.aclose()
            await sim.aclose()
    p50, p99 = pct(ours, 50), pct(ours, 99)
    d50, d99 = pct(theirs, 50), pct(theirs, 99)
    added = p50 - d50
    added_p99 = p99 - d99
    print(f"gateway  p50 {p50:.2f} ms  p99 {p99:.2f} ms  (N={N})")
    print(f"direct   p50 {d50:.2f} ms  p99 {d99:.2f} ms")
    added_cpu = CPU_MS["ours"] - CPU_MS["direct_client"]
    print(
        f"process CPU per order: gateway {CPU_MS['ours']:.2f} ms, direct "
        f"{CPU_MS['direct_client']:.2f} ms, added {added_cpu:.2f} ms "
        "(roughly what an idle machine would see)"
    )
    print(
        f"preempted (involuntary context switches) per order: gateway {PREEMPTED['ours']:.1f}, "
        f"direct {PREEMPTED['direct_client']:.1f}; load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} CPUs"
    )
    us = key_check_us()
    print(f"key check (parse + CRC + HMAC compare): {us:.1f} us")
    result = {
        "diagnostic": "gateway_in_process",
        "unit": "ms",
        "ours": round(p50, 2),
        "direct_client": round(d50, 2),
        "ratio_vs_direct_client": round(p50 / d50, 2),
        "ours_p99": round(p99, 2),
        "direct_client_p99": round(d99, 2),
        "added_p50_ms": round(added, 2),
        "added_p99_ms": round(added_p99, 2),
        "added_cpu_ms_per_order": round(added_cpu, 2),
        "preempted_per_order": round(PREEMPTED["ours"], 1),
        "load_average": round(os.getloadavg()[0], 1),
        "key_check_us": round(us, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
