"""Where an order's time goes in ``bench_gateway.py``: wall and thread CPU per phase, per order.

A diagnostic, not a benchmark (``make bench`` runs ``bench_*.py`` only): it wraps the gateway's
phases (key check, intent persist transaction, exchange call, vault signature, outcome
transaction, the whole ``place``) with timers and runs ``inprocess_gateway`` once. Thread CPU
includes whatever ran on the loop during a phase's awaits (the simulator, during the exchange
call). On a loaded machine wall time is CPU time plus the time slices the OS gave to others.
Run: ``.venv/bin/python bench/profile_gateway_phases.py`` (``BENCH_N`` as for bench_gateway).
"""

from __future__ import annotations

import asyncio
import functools
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import inprocess_gateway as bg
from kcgateway.gateway import keys, venue
from kcgateway.gateway.orders import lifecycle, router
from kcgateway.vault import signer

TOTALS: dict[str, list[float]] = {}
ACTIVE: list[bool] = [False]  # timing only while the gateway loop runs


def timed(owner: Any, name: str, label: str) -> None:
    original: Callable[..., Awaitable[Any]] = getattr(owner, name)

    @functools.wraps(original)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return await original(*args, **kwargs)
        finally:
            if ACTIVE[0]:
                total = TOTALS.setdefault(label, [0.0, 0.0])
                total[0] += time.perf_counter() - wall
                total[1] += time.thread_time() - cpu

    setattr(owner, name, wrapper)


timed(keys.KeyService, "authenticate", "key check (read key row)")
timed(router.OrderRouter, "_persist", "persist transaction")
timed(venue.AccountVenue, "place", "exchange call incl. signing")
timed(signer.Signer, "sign", "vault signature")
timed(lifecycle.Intents, "move", "outcome transaction")
timed(router.OrderRouter, "place", "place (all of the above but the key check)")

_through_gateway = bg.through_gateway


async def measured(*args: Any) -> list[float]:
    ACTIVE[0] = True
    try:
        return await _through_gateway(*args)
    finally:
        ACTIVE[0] = False


bg.through_gateway = measured  # type: ignore[assignment]

if __name__ == "__main__":
    asyncio.run(bg.main())
    orders_run = bg.N + bg.WARMUP
    print("phase: wall ms / thread CPU ms per order")
    result = {}
    for label, (wall, cpu) in TOTALS.items():
        per_wall, per_cpu = wall / orders_run * 1000, cpu / orders_run * 1000
        print(f"  {label:44s} {per_wall:7.2f} / {per_cpu:6.2f}")
        result[label] = {"wall_ms": round(per_wall, 2), "cpu_ms": round(per_cpu, 2)}
    print(json.dumps({"bench": "gateway_phases", "unit": "ms per order", "phases": result}))
