"""Gateway overhead: a spot order through ``kcgateway serve`` vs the client calling the exchange.

What runs is what a user runs: ``kcgateway serve`` itself, started as its own process (dev mode,
a fresh data directory), so the gateway is wired by ``main.prepare`` from default ``Settings``
(the database's durability settings, the vault, the metrics) and runs its background work as
serve always does (the reconciler and the private order streams). There is no switch to turn
that off. Its embedded simulator is the exchange for both sides:

- ``ours``: ``POST /v1/orders`` with serve's one-time admin key to the demo ``paper`` account
  (aiohttp client, keep-alive): the real key check with its database read, the intent persisted
  and committed, audit records, the vault signer, the exchange call, the outcome committed;
- ``direct_client``: ``KuCoinClient(credentials).spot.hf.place(...)`` from this process, with a
  simulator account of its own, against the same simulator.

The orders are IOC buys below the market (nothing fills, nothing rests), so every order is
answered and then cancelled by the exchange, and its events reach the gateway's order stream.

Each round measures, for both sides: N sequential orders (p50 and p99 latency), then M orders
with 20 in flight (orders/s). The verdict is on the median of the rounds' figures. The key check
is ``KeyService.authenticate`` (bearer parsing, the key row from serve's own database file, the
HMAC compare), timed in this process against the same database, 1,000 calls a round as a busy
bot makes them: the key row is kept for one second after it is read
(``kcgateway.gateway.key_rows``), so about one call a second reads the database.

Goal (issue 7, kept): added p99 < 5 ms and the key check < 50 us; ``met`` is false if either is
missed on the medians. Also reported: the serve process's CPU per order (from /proc, above what
it burns idle: market makers, reconciler, streams) with and without the gateway in the path,
and the load average. On a loaded machine every hop between processes and threads (client,
serve, SQLite's worker thread) waits for a time slice, which is what wall-clock p99 then shows.
Run: ``.venv/bin/python bench/bench_gateway.py`` (``BENCH_N``, ``BENCH_PAR_N``, ``BENCH_ROUNDS``).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from statistics import median, quantiles
from typing import Any

import aiohttp

from kcgateway.exchange.rest import Hosts, KuCoinClient
from kcgateway.exchange.services.orders import OrderOptions
from kcgateway.exchange.transport import AiohttpTransport
from kcgateway.gateway import apikeys
from kcgateway.gateway.keys import KeyService
from kcgateway.kucoin.signing import Credentials
from kcgateway.main import load_pepper, open_store
from kcgateway.secret import Secret
from kcgateway.settings import Settings

N = int(os.environ.get("BENCH_N", "200"))
PAR_N = int(os.environ.get("BENCH_PAR_N", "400"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
IN_FLIGHT = 20
WARMUP = 30
IDLE_S = 3.0
GOAL_ADDED_P99_MS = 5.0  # issue 7: p99 added latency under 5 ms on SQLite
GOAL_KEY_CHECK_US = 50.0  # issue 7: key check under 50 us
IOC = OrderOptions(time_in_force="IOC")
KCGATEWAY = Path(sys.executable).with_name("kcgateway")
PRICES = [Decimal(50000 - i) for i in range(100)]  # far below the 65,000 market: never fills


def pct(samples: list[float], q: int) -> float:
    return quantiles(samples, n=100)[q - 1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Serve:
    """``kcgateway serve`` as a child process; its banner gives the admin key and the exchange."""

    def __init__(self, data_dir: Path, port: int, extra_env: dict[str, str] | None = None) -> None:
        env = {
            **os.environ,
            "KCGW_DATA_DIR": str(data_dir),
            "KCGW_MODE": "dev",
            **(extra_env or {}),
        }
        env.pop("KCGW_EXCHANGE_URL", None)
        # serve's output goes to a file, read back for the banner: a pipe nobody drains would
        # block the gateway once its log lines filled it
        self.log_path = data_dir.parent / "serve.log"
        self._log = self.log_path.open("w")
        command = [str(KCGATEWAY), "serve", "--port", str(port)]
        profile_to = os.environ.get("BENCH_PROFILE_SERVE")  # a path: cProfile serve into it
        if profile_to:
            command = [sys.executable, "-m", "cProfile", "-o", profile_to, *command]
        self.proc = subprocess.Popen(  # noqa: S603 - our own command
            command,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self.base = f"http://127.0.0.1:{port}"
        self.key = ""
        self.exchange = ""

    def read_banner(self, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        lines: list[str] = []
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("kcgateway serve exited:\n" + self.log_path.read_text())
            lines = self.log_path.read_text().splitlines(keepends=True)
            if any(line.strip().startswith("kgw_") for line in lines):
                break
            time.sleep(0.1)
        for line in lines:
            found = re.search(r"embedded simulator \(paper trading\) at (\S+)", line)
            if found:
                self.exchange = found.group(1)
            if line.strip().startswith("kgw_"):
                self.key = line.strip()
        if not (self.key and self.exchange):
            raise RuntimeError("no admin key or exchange in serve's banner:\n" + "".join(lines))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


async def wait_ready(session: aiohttp.ClientSession, url: str) -> None:
    for _ in range(600):
        try:
            async with session.get(url) as resp:
                if resp.status < 500:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


Place = Callable[[int], Awaitable[None]]


async def latencies(place: Place, n: int) -> list[float]:
    samples = []
    for i in range(n):
        start = time.perf_counter()
        await place(i)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


async def rate(place: Place, n: int) -> float:
    per_worker = n // IN_FLIGHT

    async def worker(w: int) -> None:
        for i in range(per_worker):
            await place(w * per_worker + i)

    start = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(IN_FLIGHT)))
    return per_worker * IN_FLIGHT / (time.perf_counter() - start)


def pure_key_check_us(key: str, settings: Settings) -> float:
    """The CPU-only part of the key check (parse, CRC, HMAC compare), for scale."""
    pepper = load_pepper(settings)
    presented = apikeys.parse_key(key)
    if presented is None:
        raise RuntimeError("serve's admin key does not parse")
    stored = apikeys.hash_secret(pepper, presented.secret.reveal())
    rounds = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(5000):
            parsed = apikeys.parse_key(key)
            if parsed is None or not apikeys.secret_matches(pepper, parsed, stored):
                raise RuntimeError("the key check failed")
        rounds.append((time.perf_counter() - start) / 5000 * 1e6)
    return median(rounds)


async def key_check_us(settings: Settings, key: str) -> float:
    """Median microseconds of the real ``authenticate`` (database read included) over rounds."""
    db = await open_store(settings)
    try:
        keys = KeyService(db, load_pepper(settings))
        header = f"Bearer {key}"
        for _ in range(200):
            await keys.authenticate(header, "127.0.0.1")
        rounds = []
        for _ in range(ROUNDS):
            start = time.perf_counter()
            for _ in range(1000):
                await keys.authenticate(header, "127.0.0.1")
            rounds.append((time.perf_counter() - start) / 1000 * 1e6)
        return median(rounds)
    finally:
        await db.aclose()


#: the gateway's risk limits for a benchmark key: every check stays on (the engine's full
#: cost is measured), with thresholds a bot firing thousands of orders a minute from one key
#: at 100 repeating prices needs (the defaults would refuse it as a runaway: 10 orders/s per
#: key, the same order twice within 2 s)
BENCH_LIMITS = {
    "keyOrdersPerSecond": 1_000_000,
    "keyOrdersPerMinute": 10_000_000,
    "accountOrdersPerSecond": 1_000_000,
    "accountOrdersPerMinute": 10_000_000,
    "dailyOrders": 10_000_000,
    "duplicateWindowMs": 1,
    "maxOpenOrders": 100_000,
}


async def bench_limits(session: aiohttp.ClientSession, base: str, headers: dict[str, str]) -> None:
    """Set :data:`BENCH_LIMITS` at the gateway level (what an operator does for such a bot)."""
    body = {"level": "gateway", "reason": "benchmark: one key at full speed",
            "limits": BENCH_LIMITS}  # fmt: skip
    async with session.put(base + "/v1/risk/limits", json=body, headers=headers) as resp:
        if resp.status != 200:
            raise RuntimeError(f"setting the bench limits: {resp.status} {await resp.text()}")


async def measure(serve: Serve, settings: Settings) -> dict[str, Any]:
    rounds: dict[str, list[float]] = {}

    def note(name: str, value: float) -> None:
        rounds.setdefault(name, []).append(value)

    async with aiohttp.ClientSession() as session:
        await wait_ready(session, serve.base + "/v1/orders")
        async with session.post(
            serve.exchange + "/_sim/accounts",
            json={"hf": True, "balances": {"USDT": "10000000"}},
        ) as resp:
            reply = await resp.json()
        account = reply.get("data", reply)
        creds = Credentials(
            account["apiKey"], Secret(account["secret"]), Secret(account["passphrase"])
        )
        hosts = Hosts(spot=serve.exchange, futures=serve.exchange, broker=serve.exchange)
        headers = {"Authorization": f"Bearer {serve.key}"}
        url = serve.base + "/v1/orders"
        await bench_limits(session, serve.base, headers)

        async def ours(i: int) -> None:
            body = {
                "account": "paper",
                "symbol": "BTC-USDT",
                "side": "buy",
                "type": "limit",
                "price": str(PRICES[i % 100]),
                "size": "0.001",
                "timeInForce": "IOC",
            }
            async with session.post(url, json=body, headers=headers) as resp:
                await resp.read()
                if resp.status != 201:
                    raise RuntimeError(f"gateway answered {resp.status}: {await resp.text()}")

        async with KuCoinClient(creds, transport=AiohttpTransport(), hosts=hosts) as client:

            async def direct(i: int) -> None:
                await client.spot.hf.place(
                    "BTC-USDT", "buy", price=PRICES[i % 100], size=Decimal("0.001"), options=IOC
                )

            pid = serve.proc.pid
            for place in (ours, direct):
                await latencies(place, WARMUP)
            # serve's CPU while idle (market makers, reconciler, streams): subtracted per order
            idle_cpu, idle_start = cpu_seconds(pid), time.perf_counter()
            await asyncio.sleep(IDLE_S)
            idle_rate = (cpu_seconds(pid) - idle_cpu) / (time.perf_counter() - idle_start)
            rounds["idle_cpu_share"] = [idle_rate]
            for round_no in range(ROUNDS):
                sides = [("ours", ours), ("direct_client", direct)]
                for name, place in sides if round_no % 2 == 0 else sides[::-1]:
                    cpu, start = cpu_seconds(pid), time.perf_counter()
                    samples = await latencies(place, N)
                    busy = cpu_seconds(pid) - cpu - idle_rate * (time.perf_counter() - start)
                    note(f"{name}_cpu_ms", busy / N * 1000)
                    note(f"{name}_p50", pct(samples, 50))
                    note(f"{name}_p99", pct(samples, 99))
                    note(f"{name}_rate", await rate(place, PAR_N))
                note("load", os.getloadavg()[0])
                print(
                    f"  round {round_no + 1}: ours p50 {rounds['ours_p50'][-1]:.2f} p99 "
                    f"{rounds['ours_p99'][-1]:.2f} ms, {rounds['ours_rate'][-1]:.0f}/s; direct "
                    f"p50 {rounds['direct_client_p50'][-1]:.2f} p99 "
                    f"{rounds['direct_client_p99'][-1]:.2f} ms, "
                    f"{rounds['direct_client_rate'][-1]:.0f}/s; load {rounds['load'][-1]:.1f}",
                    flush=True,
                )
    added_p99 = [
        o - d for o, d in zip(rounds["ours_p99"], rounds["direct_client_p99"], strict=True)
    ]
    figures = {name: median(values) for name, values in rounds.items()}
    figures["added_p99"] = median(added_p99)
    figures["added_p99_rounds"] = added_p99
    figures["key_check_us"] = await key_check_us(settings, serve.key)
    figures["key_check_cpu_only_us"] = pure_key_check_us(serve.key, settings)
    return figures


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        port = free_port()
        serve = Serve(data_dir, port)
        try:
            serve.read_banner()
            settings = Settings(data_dir=data_dir)
            f = asyncio.run(measure(serve, settings))
        finally:
            serve.stop()
    added_p50 = f["ours_p50"] - f["direct_client_p50"]
    print(f"gateway  p50 {f['ours_p50']:.2f} ms  p99 {f['ours_p99']:.2f} ms  (medians of {ROUNDS})")
    print(f"direct   p50 {f['direct_client_p50']:.2f} ms  p99 {f['direct_client_p99']:.2f} ms")
    print(
        f"added p99 per round: {', '.join(f'{x:.2f}' for x in f['added_p99_rounds'])} ms; "
        f"median {f['added_p99']:.2f} ms"
    )
    print(
        f"20 in flight: gateway {f['ours_rate']:.0f} orders/s, direct "
        f"{f['direct_client_rate']:.0f} orders/s"
    )
    print(
        f"serve process CPU per order above its idle {f['idle_cpu_share'] * 100:.1f}% of a core: "
        f"through the gateway {f['ours_cpu_ms']:.2f} ms, direct {f['direct_client_cpu_ms']:.2f} "
        "ms (the simulator only)"
    )
    print(
        f"key check (real authenticate, database read): {f['key_check_us']:.1f} us; its CPU-only "
        f"part (parse, CRC, HMAC compare): {f['key_check_cpu_only_us']:.1f} us"
    )
    met = f["added_p99"] < GOAL_ADDED_P99_MS and f["key_check_us"] < GOAL_KEY_CHECK_US
    result = {
        "bench": "gateway_place_order_p99_added",
        "unit": "ms",
        "ours": round(f["ours_p99"], 2),
        "direct_client": round(f["direct_client_p99"], 2),
        "ratio_vs_direct_client": round(f["ours_p99"] / f["direct_client_p99"], 2),
        "added_p99_ms": round(f["added_p99"], 2),
        "added_p99_ms_rounds": [round(x, 2) for x in f["added_p99_rounds"]],
        "ours_p50": round(f["ours_p50"], 2),
        "direct_client_p50": round(f["direct_client_p50"], 2),
        "added_p50_ms": round(added_p50, 2),
        "ours_orders_per_s_20_in_flight": round(f["ours_rate"]),
        "direct_orders_per_s_20_in_flight": round(f["direct_client_rate"]),
        "serve_cpu_ms_per_order": round(f["ours_cpu_ms"], 2),
        "serve_cpu_ms_per_direct_order": round(f["direct_client_cpu_ms"], 2),
        "serve_idle_cpu_share": round(f["idle_cpu_share"], 3),
        "key_check_us": round(f["key_check_us"], 1),
        "key_check_cpu_only_us": round(f["key_check_cpu_only_us"], 1),
        "rounds": ROUNDS,
        "n_per_round": N,
        "load_average": round(f["load"], 1),
        "goal": f"added p99 < {GOAL_ADDED_P99_MS:g} ms and key check (real authenticate) < "
        f"{GOAL_KEY_CHECK_US:g} us, medians of rounds, kcgateway serve with its background work",
        "met": met,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
