"""What a shared (Redis) rate budget adds to each exchange call, against the in-process one.

Times ``acquire`` of weight 1 on a pool that never runs out (so nothing waits for a window):
sequentially (the latency one call sees) and 64 at a time (what one instance can admit per
second). Ours: ``SharedBudgets`` on the Redis at ``--redis-url`` (one Lua script per call);
peer: ``LocalBudget`` (the pure limiter in this process). A KuCoin REST round trip takes tens
of milliseconds, so the goal is that the shared budget adds at most 1 ms per call (median, as
bench/README.md asks; p99 is printed too, with the load average).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import time

from kcgateway.clock import SystemClock
from kcgateway.exchange.budget import Budget, LocalBudget
from kcgateway.exchange.shared_budget import SharedBudgets
from kcgateway.kucoin.endpoints import Pool
from kcgateway.kucoin.ratelimit import RateLimiter

QUOTAS = dict.fromkeys(Pool, 10**9)


async def _latencies(budget: Budget, calls: int) -> list[float]:
    spent = []
    for _ in range(calls):
        start = time.perf_counter()
        await budget.acquire(Pool.SPOT, 1)
        spent.append((time.perf_counter() - start) * 1e6)
    return spent


async def _rate(budget: Budget, calls: int, concurrency: int) -> float:
    async def worker() -> None:
        for _ in range(calls // concurrency):
            await budget.acquire(Pool.SPOT, 1)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return (calls // concurrency) * concurrency / (time.perf_counter() - start)


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


async def run(redis_url: str, calls: int) -> dict[str, object]:
    """Measure both budgets; the JSON result."""
    prefix = f"kcgw:bench:{secrets.token_hex(6)}:"
    budgets = SharedBudgets.connect(redis_url, prefix=prefix, quotas=QUOTAS)
    try:
        shared = budgets.for_key("uid:bench")
        await _latencies(shared, 100)  # connections, script load
        ours = await _latencies(shared, calls)
        ours_rate = await _rate(shared, calls, 64)
        mode = budgets.mode
        keys = [k async for k in budgets.redis.scan_iter(match=prefix + "*")]
        if keys:
            await budgets.redis.delete(*keys)
    finally:
        await budgets.aclose()
    local = LocalBudget(SystemClock(), RateLimiter(QUOTAS))
    peer = await _latencies(local, calls)
    peer_rate = await _rate(local, calls, 64)
    added = statistics.median(ours) - statistics.median(peer)
    return {
        "bench": "shared_rate_budget",
        "unit": "us per acquire (median)",
        "ours": round(statistics.median(ours), 1),
        "local": round(statistics.median(peer), 1),
        "ratio_vs_local": round(statistics.median(ours) / max(statistics.median(peer), 1e-3), 1),
        "ours_p99_us": round(_pct(ours, 99), 1),
        "local_p99_us": round(_pct(peer, 99), 1),
        "ours_acquires_per_s_64_at_once": round(ours_rate),
        "local_acquires_per_s_64_at_once": round(peer_rate),
        "added_median_us": round(added, 1),
        "mode": mode,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "goal": "the shared budget adds <= 1000 us per call (median, in shared mode)",
        "met": mode == "shared" and added <= 1000,
    }


def main() -> int:
    """Run and print the figures, then the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--calls", type=int, default=5000)
    args = parser.parse_args()
    result = asyncio.run(run(args.redis_url, args.calls))
    print(
        f"acquire median/p99: shared {result['ours']}/{result['ours_p99_us']} us, local "
        f"{result['local']}/{result['local_p99_us']} us; 64 at once: "
        f"{result['ours_acquires_per_s_64_at_once']:,}/s shared, "
        f"{result['local_acquires_per_s_64_at_once']:,}/s local"
    )
    print(json.dumps(result))
    return 0 if result["met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
