"""How fast a change made on one gateway instance holds on another (issue 19, Propagation).

Two instances on one PostgreSQL database and one simulator, as ``tests/helpers/cluster.py``
builds them (each its own engine, caches and change bus). For each kind of change, ROUNDS times:
the change is made through instance A's services, and instance B is polled (every 1 ms, in
memory or through its own key check / venue lookup) until it obeys. The delay is measured from
the START of A's call, so it includes A's own commit.

- ``halt``: A halts an account; until B's risk states for it are no longer all ACTIVE (then A
  resumes it, and B is waited for again, not counted);
- ``key_revoke``: B has authenticated a key (and keeps its row); A revokes it; until B refuses it;
- ``account_removal``: B holds the account's client; A removes the account; until B has
  forgotten it (its venue lookup says not connected).

``ours``: B hears LISTEN/NOTIFY (re-read hourly: only the notifications count). Peer
``reread``: B hears nothing and relies on the periodic re-read at its default period
(``RESYNC_S``, 5 s), PEER_ROUNDS times per kind: what every instance got before the bus, at best.

Goal: p99 < 1 s for every kind. Run: ``.venv/bin/python bench/bench_propagation.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.helpers.cluster import HOUR, peer
from tests.helpers.databases import PG_HOST, PG_PORT, _admin, _find_user, _migrate
from tests.helpers.gateway import Stack, Tenant, gateway_stack

from kcgateway.errors import AccountNotConnected, Unauthenticated
from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.cluster.bus import RESYNC_S, PgBus
from kcgateway.gateway.keys import Operator
from kcgateway.risk import TradingStates
from kcgateway.store.database import open_database

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "30"))
PEER_ROUNDS = int(os.environ.get("BENCH_PEER_ROUNDS", "3"))
GOAL_S = 1.0
STUCK_S = 60.0
OPERATOR = Operator("bench")
Change = Callable[[Stack, Stack, Tenant], Awaitable[float]]


async def _until(check: Callable[[], Awaitable[bool]], began: float) -> float:
    while not await check():
        if time.perf_counter() - began > STUCK_S:
            raise TimeoutError("the change never arrived")
        await asyncio.sleep(0.001)
    return time.perf_counter() - began


async def halt(a: Stack, b: Stack, tenant: Tenant) -> float:
    assert a.services.risk is not None and b.services.risk is not None
    risk = b.services.risk

    async def halted() -> bool:
        return risk.states_for(tenant.id, tenant.account_id, "") != TradingStates()

    async def resumed() -> bool:
        return not await halted()

    began = time.perf_counter()
    await a.services.risk.halt("account", tenant.account_id, "bench", OPERATOR)
    delay = await _until(halted, began)
    await a.services.risk.resume("account", tenant.account_id, "bench over", OPERATOR)
    await _until(resumed, time.perf_counter())
    return delay


async def key_revoke(a: Stack, b: Stack, tenant: Tenant) -> float:
    full, view = await a.services.keys.create(
        tenant_id=tenant.id, owner="bench", scopes=frozenset({Scope.READ}), actor=OPERATOR
    )
    header = f"Bearer {full.reveal()}"
    await b.services.keys.authenticate(header, "127.0.0.1")  # B keeps the row

    async def refused() -> bool:
        try:
            await b.services.keys.authenticate(header, "127.0.0.1")
        except Unauthenticated:
            return True
        return False

    began = time.perf_counter()
    await a.services.keys.revoke(tenant.id, view.key_id, actor=OPERATOR)
    return await _until(refused, began)


async def account_removal(a: Stack, b: Stack, _: Tenant) -> float:
    tenant = await a.add_tenant(f"t{secrets.token_hex(4)}")
    await b.services.venues.for_account(tenant.account_id)  # B holds its client

    async def forgotten() -> bool:
        try:
            await b.services.venues.for_account(tenant.account_id)
        except AccountNotConnected:
            return True
        return False

    began = time.perf_counter()
    await a.services.accounts.remove(tenant.id, "main", "bench")
    return await _until(forgotten, began)


KINDS: dict[str, Change] = {
    "halt": halt,
    "key_revoke": key_revoke,
    "account_removal": account_removal,
}


@asynccontextmanager
async def database() -> AsyncIterator[str]:
    user = await _find_user()
    if user is None:
        raise SystemExit(f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT}: start it first")
    name = f"kcgw_bench_{secrets.token_hex(6)}"
    await _admin(user, f'CREATE DATABASE "{name}"')
    url = f"postgresql+asyncpg://{user}@{PG_HOST}:{PG_PORT}/{name}"
    try:
        await _migrate(url)
        yield url
    finally:
        await _admin(user, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def measure(url: str, tmp: Path, *, listen: bool, rounds: int) -> dict[str, list[float]]:
    db = open_database(url)
    bus = PgBus(db, resync_s=HOUR)
    delays: dict[str, list[float]] = {kind: [] for kind in KINDS}
    async with gateway_stack(tmp, db=db, bus=bus) as a:
        await bus.wait_listening()
        tenant = await a.add_tenant(f"t{secrets.token_hex(4)}")
        resync_s = HOUR if listen else RESYNC_S
        async with peer(a, url, listen=listen, resync_s=resync_s) as b:
            b.services.keys.row_ttl = timedelta(hours=1)  # only the bus or the re-read count
            for _ in range(rounds):
                for kind, change in KINDS.items():
                    delays[kind].append(await change(a, b, tenant))
    return delays


def _p99(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.99 * len(values)) - 1)]


async def main() -> dict[str, object]:
    async with database() as url:
        with tempfile.TemporaryDirectory() as tmp:
            ours = await measure(url, Path(tmp), listen=True, rounds=ROUNDS)
        with tempfile.TemporaryDirectory() as tmp:
            reread = await measure(url, Path(tmp), listen=False, rounds=PEER_ROUNDS)
    figures: dict[str, object] = {}
    for kind in KINDS:
        ms = [d * 1000 for d in ours[kind]]
        figures[kind] = {
            "median_ms": round(statistics.median(ms), 1),
            "p99_ms": round(_p99(ms), 1),
            "reread_median_ms": round(statistics.median(reread[kind]) * 1000, 1),
        }
        print(f"{kind}: {figures[kind]}", flush=True)
    worst = max(_p99(v) for v in ours.values()) * 1000
    peer_worst = max(_p99(v) for v in reread.values()) * 1000
    return {
        "bench": "propagation_p99",
        "unit": "ms from a change's call on A until instance B obeys it, worst kind's p99",
        "ours": round(worst, 1),
        "reread": round(peer_worst, 1),
        "ratio_vs_reread": round(peer_worst / worst, 1),
        **figures,
        "rounds": ROUNDS,
        "peer_rounds": PEER_ROUNDS,
        "load_average": round(os.getloadavg()[0], 1),
        "goal": f"p99 < {GOAL_S:g} s for halt, key revocation and account removal",
        "met": worst < GOAL_S * 1000,
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
