"""Rate budget soak (issue #19): three instances spend one KuCoin UID's quota through Redis.

Starts the simulator in this process (``EmbeddedSim``, no market makers; or uses ``--sim-url``),
sets its spot pool to ``--quota`` weight per ``--window-ms`` (``POST /_sim/ratelimit``), creates
one account, and builds ``--instances`` independent client stacks ("instances": each its own
:class:`~kcgateway.exchange.shared_budget.SharedBudgets` with its own Redis connections and its
own :class:`~kcgateway.exchange.rest.KuCoinClient`) that all trade for that one UID. Each
instance offers its part of ``--demand`` times the quota (open loop: a call is started on
schedule whether or not the earlier ones went through; at most ``--max-outstanding`` wait per
instance, later ones are shed and counted), alternating two spot-pool reads of weight 2 and 3.

At the end it reads the simulator's own count of every window of that UID's spot pool and
prints, with one JSON line: the largest share of the quota any window used (goal <= 0.8) and
the share of calls the simulator answered 429 (goal <= 0.001). ``--local`` runs the same with
today's in-process budgets instead (each instance spends 80% of the whole quota: the figure
the shared budget exists to fix).

Full size (several minutes at KuCoin's VIP 0 spot quota), from the repository root::

    .venv/bin/python scripts/rate_budget_soak.py --duration-s 300

CI runs it reduced (a 200-weight quota, 2 s windows, a few windows) through
``tests/integration/test_rate_budget_soak.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import secrets
import sys
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from typing import Any

import aiohttp
from redis.asyncio import Redis

from kcgateway.clock import SystemClock
from kcgateway.errors import ExchangeError
from kcgateway.exchange.budget import Budget, LocalBudget
from kcgateway.exchange.rest import Hosts, KuCoinClient
from kcgateway.exchange.shared_budget import SharedBudgets
from kcgateway.kucoin.endpoints import ENDPOINTS, Pool
from kcgateway.kucoin.ratelimit import VIP0_QUOTAS, RateLimiter
from kcgateway.kucoin.retry import RetryPolicy
from kcgateway.kucoin.signing import Credentials
from kcgateway.secret import Secret

#: the calls offered, in turn: spot-pool reads of different weights
CALLS = ("spot.hf.active_symbols", "spot.classic.recent")


async def _offer(
    client: KuCoinClient, rate_per_s: float, until: float, max_outstanding: int
) -> dict[str, int]:
    """Start calls at ``rate_per_s`` until ``until`` (monotonic); count what happened."""
    counts = {"offered": 0, "ok": 0, "failed": 0, "shed": 0}
    tasks: set[asyncio.Task[None]] = set()
    names = itertools.cycle(CALLS)

    async def one(name: str) -> None:
        try:
            await client.call(name)
        except ExchangeError:
            counts["failed"] += 1
        else:
            counts["ok"] += 1

    start = time.monotonic()
    while (now := time.monotonic()) < until:
        due = int((now - start) * rate_per_s) - counts["offered"]
        for _ in range(max(0, due)):
            counts["offered"] += 1
            if len(tasks) >= max_outstanding:
                counts["shed"] += 1
                continue
            task = asyncio.get_running_loop().create_task(one(next(names)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.sleep(0.01)
    for task in list(tasks):
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return counts


def _judge(windows: Sequence[Any], quota: int) -> dict[str, Any]:
    calls = sum(int(w["calls"]) for w in windows)
    refused = sum(int(w["refused"]) for w in windows)
    shares = [int(w["used"]) / quota for w in windows]
    return {
        "windows": len(windows),
        "max_window_share": max(shares, default=0.0),
        "mean_window_share": sum(shares) / len(shares) if shares else 0.0,
        "calls": calls,
        "refused_429": refused,
        "refused_share": refused / calls if calls else 0.0,
        "met": bool(windows) and max(shares) <= 0.8 and refused <= 0.001 * calls,
    }


async def run_soak(
    redis_url: str,
    hosts: Hosts,
    *,
    instances: int = 3,
    quota: int = 4000,
    window_ms: int = 30_000,
    duration_s: float = 180.0,
    demand: float = 2.0,
    max_outstanding: int = 500,
    shared: bool = True,
    prefix: str | None = None,
) -> dict[str, Any]:
    """Run the soak against the simulator at ``hosts``; the figures and ``met``.

    The simulator's control API (``hosts.spot`` + ``/_sim/``) sets the quota and the window,
    creates the account and reports the windows at the end.
    """
    prefix = prefix or f"kcgw:soak:{secrets.token_hex(6)}:"
    quotas = {**VIP0_QUOTAS, Pool.SPOT: quota}
    async with aiohttp.ClientSession(hosts.spot) as admin:
        await _admin(admin, "/_sim/ratelimit", {"quotas": {"spot": quota}, "windowMs": window_ms})
        account = await _admin(admin, "/_sim/accounts", {"hf": True})
        uid = account["uid"]
        creds = Credentials(
            account["apiKey"], Secret(account["secret"]), Secret(account["passphrase"])
        )
        mean_weight = sum(ENDPOINTS[name].weight for name in CALLS) / len(CALLS)
        rate = demand * quota / (window_ms / 1000) / mean_weight / instances
        try:
            async with AsyncExitStack() as stack:
                clients = []
                for _ in range(instances):
                    budget: Budget
                    if shared:
                        budgets = SharedBudgets.connect(
                            redis_url, prefix=prefix, window_ms=window_ms, quotas=quotas,
                            live_instances=lambda: instances,
                        )  # fmt: skip
                        stack.push_async_callback(budgets.aclose)
                        budget = budgets.for_key(f"uid:{uid}")
                    else:
                        budget = LocalBudget(SystemClock(), RateLimiter(quotas))
                    client = KuCoinClient(
                        creds, hosts=hosts, budget=budget, timeout=30,
                        retry=RetryPolicy(max_attempts=2),
                    )  # fmt: skip
                    clients.append(await stack.enter_async_context(client))
                until = time.monotonic() + duration_s
                counts = await asyncio.gather(
                    *(_offer(c, rate, until, max_outstanding) for c in clients)
                )
        finally:
            with contextlib.suppress(Exception):
                await _forget(redis_url, prefix)
        seen = await _admin(admin, f"/_sim/ratelimit?pool=spot&subject={uid}")
    total = {k: sum(c[k] for c in counts) for k in counts[0]}
    return {
        "instances": instances,
        "quota": quota,
        "window_ms": window_ms,
        "duration_s": duration_s,
        "demand": demand,
        "budget": "shared" if shared else "local",
        **total,
        **_judge(seen["windows"], quota),
    }


async def _admin(session: aiohttp.ClientSession, path: str, body: object = None) -> Any:
    method = "GET" if body is None else "POST"
    async with session.request(method, path, json=body) as resp:
        data = await resp.json()
        if resp.status != 200:
            raise RuntimeError(f"{method} {path}: HTTP {resp.status} {data}")
        return data


async def _forget(redis_url: str, prefix: str) -> None:
    client = Redis.from_url(redis_url)
    try:
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def _with_sim(args: argparse.Namespace) -> dict[str, Any]:
    """Run the soak against ``--sim-url``, or against a simulator started in this process."""
    if args.sim_url:
        hosts = Hosts(spot=args.sim_url, futures=args.sim_url, broker=args.sim_url)
        return await _soak(args, hosts)
    from kcgateway.devmode import EmbeddedSim  # noqa: PLC0415 - only when no simulator is given

    sim = await EmbeddedSim.start(tick_ms=0)
    try:
        return await _soak(args, sim.hosts)
    finally:
        await sim.aclose()


async def _soak(args: argparse.Namespace, hosts: Hosts) -> dict[str, Any]:
    return await run_soak(
        args.redis_url, hosts, instances=args.instances, quota=args.quota,
        window_ms=args.window_ms, duration_s=args.duration_s, demand=args.demand,
        max_outstanding=args.max_outstanding, shared=not args.local,
    )  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the options, run, print the figures; exit 1 when a goal is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--sim-url", help="a running `kcgateway sim` (default: start one here)")
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--quota", type=int, default=VIP0_QUOTAS[Pool.SPOT])
    parser.add_argument("--window-ms", type=int, default=30_000)
    parser.add_argument("--duration-s", type=float, default=180.0)
    parser.add_argument("--demand", type=float, default=2.0, help="offered load / quota")
    parser.add_argument("--max-outstanding", type=int, default=500)
    parser.add_argument("--local", action="store_true", help="in-process budgets (no Redis)")
    args = parser.parse_args(argv)
    result = asyncio.run(_with_sim(args))
    print(
        f"{result['instances']} instances, {result['budget']} budget, demand "
        f"{result['demand']}x a quota of {result['quota']} per {result['window_ms']} ms, "
        f"{result['duration_s']} s: {result['windows']} windows, largest "
        f"{result['max_window_share']:.1%} of the quota (goal <= 80%), {result['refused_429']} "
        f"of {result['calls']} calls answered 429 ({result['refused_share']:.3%}, goal <= 0.1%)"
    )
    print(json.dumps(result))
    return 0 if result["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
