"""SharedBudgets against the real Redis at 127.0.0.1:6379: several objects stand for instances."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from redis.asyncio import Redis

from kcgateway.exchange.shared_budget import SharedBudget, SharedBudgets
from kcgateway.kucoin.endpoints import Pool
from kcgateway.kucoin.ratelimit import VIP0_QUOTAS
from tests.helpers.redis import REDIS_URL, TcpProxy

pytestmark = pytest.mark.redis

UID = "uid:1234567"
SPOT = Pool.SPOT
QUOTAS = {**VIP0_QUOTAS, SPOT: 100}


@asynccontextmanager
async def instances(
    prefix: str, n: int = 1, *, url: str = REDIS_URL, **kwargs: Any
) -> AsyncIterator[list[SharedBudgets]]:
    kwargs.setdefault("quotas", QUOTAS)
    made = [SharedBudgets.connect(url, prefix=prefix, **kwargs) for _ in range(n)]
    try:
        yield made
    finally:
        for budgets in made:
            await budgets.aclose()


async def shared_state(prefix: str, pool: Pool = SPOT) -> dict[str, int]:
    client = Redis.from_url(REDIS_URL)
    try:
        raw = await client.hgetall(f"{prefix}{{{UID}}}:{pool.value}")
    finally:
        await client.aclose()
    return {k.decode(): int(v) for k, v in raw.items()}


def headers(limit: int, remaining: int, reset_ms: int) -> dict[str, str]:
    return {
        "gw-ratelimit-limit": str(limit),
        "gw-ratelimit-remaining": str(remaining),
        "gw-ratelimit-reset": str(reset_ms),
    }


async def eventually(check: Callable[[], Any], timeout_s: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        assert asyncio.get_running_loop().time() < deadline, "condition not met within bound"
        await asyncio.sleep(0.05)


async def test_many_coroutines_on_three_instances_never_overspend(redis_prefix: str) -> None:
    # generous timeouts: this test is about atomicity, not about a loaded machine's slow connects
    async with instances(redis_prefix, 3, timeout_s=10, connect_timeout_s=10) as three:
        budgets = [b.for_key(UID) for b in three]
        rng = random.Random(5)
        tries = [(budgets[i % 3], rng.randint(1, 3)) for i in range(300)]
        waits = await asyncio.gather(*(b.reserve(SPOT, w) for b, w in tries))
        admitted = sum(w for (_, w), wait in zip(tries, waits, strict=True) if wait == 0)
        # the soft cap is 80 of 100; weights of 1-3 fill it to at least 78, never past it
        assert 78 <= admitted <= 80
        assert (await shared_state(redis_prefix))["used"] == admitted
        assert all(0 < wait <= 30_000 for wait in waits if wait)
        assert all(b.mode == "shared" for b in three)


async def test_cancels_use_the_headroom_and_go_first(redis_prefix: str) -> None:
    async with instances(redis_prefix, 2, window_ms=800, priority_grace_ms=1_500) as (a, b):
        orders, cancels = a.for_key(UID), b.for_key(UID)
        assert await orders.reserve(SPOT, 80) == 0
        assert await orders.reserve(SPOT, 1) > 0  # the soft cap (80%) is reached
        assert await cancels.reserve(SPOT, 20, priority=True) == 0  # the headroom is theirs
        assert await cancels.reserve(SPOT, 1, priority=True) > 0  # the whole quota is spent
        served: list[str] = []

        async def take(budget: SharedBudget, name: str, priority: bool) -> None:
            await budget.acquire(SPOT, 5, priority=priority)
            served.append(name)

        order = asyncio.create_task(take(orders, "order", False))
        await asyncio.sleep(0.05)  # the order waits first...
        cancel = asyncio.create_task(take(cancels, "cancel", True))
        await asyncio.wait_for(asyncio.gather(order, cancel), 30)
        assert served == ["cancel", "order"]  # ...but the cancel is served first


async def test_observed_headers_correct_every_instance(redis_prefix: str) -> None:
    async with instances(redis_prefix, 2) as (a, b):
        seer, other = a.for_key(UID), b.for_key(UID)
        assert await seer.reserve(SPOT, 10) == 0
        seer.observe(SPOT, headers(100, 30, 20_000))  # someone else spent 60 meanwhile
        await seer.flush()
        assert (await shared_state(redis_prefix))["used"] == 70
        assert await other.reserve(SPOT, 11) > 0  # 70 + 11 > 80
        assert await other.reserve(SPOT, 10) == 0
        seer.observe(SPOT, headers(100, 95, 20_000))  # an older, rosier reply: never lowers
        await seer.flush()
        assert (await shared_state(redis_prefix))["used"] == 80
        seer.observe(SPOT, headers(50, 0, 20_000))  # the server's limit wins
        await seer.flush()
        assert (await shared_state(redis_prefix))["limit"] == 50


async def test_a_reply_from_a_finished_window_is_ignored(redis_prefix: str) -> None:
    async with instances(redis_prefix, 1, window_ms=400) as (a,):
        budget = a.for_key(UID)
        assert await budget.reserve(SPOT, 10) == 0
        await asyncio.sleep(0.5)  # the window is over
        assert await budget.reserve(SPOT, 5) == 0  # a new one
        budget.observe(SPOT, headers(100, 0, 3))  # late: the old window, 3 ms before its end
        await budget.flush()
        assert (await shared_state(redis_prefix))["used"] == 5
        budget.observe(SPOT, headers(100, 90, 390))  # this window as the server counts it
        await budget.flush()
        assert (await shared_state(redis_prefix))["used"] == 10


async def test_a_429_blocks_every_instance_until_the_reset(redis_prefix: str) -> None:
    async with instances(redis_prefix, 2) as (a, b):
        hit, other = a.for_key(UID), b.for_key(UID)
        hit.on_rate_limited(SPOT, 400)
        await hit.flush()
        wait = await other.reserve(SPOT, 1, priority=True)  # cancels wait too
        assert 0 < wait <= 400
        await asyncio.wait_for(other.acquire(SPOT, 1), 30)  # once the reset has passed
        assert (await shared_state(redis_prefix))["used"] == 1  # a fresh window


async def test_unreachable_redis_falls_back_to_one_nth_never_unlimited() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        url = f"redis://127.0.0.1:{sock.getsockname()[1]}/0"
    async with instances("kcgw:test:closed:", 1, url=url, live_instances=lambda: 4) as (a,):
        budget = a.for_key(UID)
        # 1/4 of 100 is 25; ordinary requests get 80% of it: 20
        assert all([await budget.reserve(SPOT, 1) == 0 for _ in range(20)])
        assert await budget.reserve(SPOT, 1) > 0
        assert await budget.reserve(SPOT, 5, priority=True) == 0  # the local headroom
        assert await budget.reserve(SPOT, 1, priority=True) > 0
        assert a.mode == "local_share" and budget.local
        assert not budget.try_acquire(SPOT, 1)
        assert await a.check() is False


async def test_redis_that_stops_answering_midway_then_returns(redis_prefix: str) -> None:
    proxy = TcpProxy()
    await proxy.start()
    try:
        async with instances(
            redis_prefix, 1, url=proxy.url, live_instances=lambda: 2, retry_s=0.2
        ) as (a,):
            budget = a.for_key(UID)
            assert await budget.reserve(SPOT, 30) == 0
            assert a.mode == "shared"
            proxy.pause()  # no answer: the client times out
            assert await budget.reserve(SPOT, 4) == 0  # from the local share (50 / 2 ...)
            assert a.mode == "local_share"
            # seeded from the last shared state (30 used of 100: 15 of this instance's 50),
            # so 40 - 15 - 4 = 21 more ordinary weight fits locally, not a fresh 40
            assert await budget.reserve(SPOT, 21) == 0
            assert await budget.reserve(SPOT, 1) > 0
            proxy.resume()
            await proxy.close()  # now refused outright
            assert await budget.reserve(SPOT, 1) > 0
            await proxy.start()  # Redis is back (same port)

            async def as_the_client_asks() -> bool:  # KuCoinClient: try_acquire, then acquire
                if not budget.try_acquire(Pool.FUTURES, 1):
                    await budget.acquire(Pool.FUTURES, 1)
                return a.mode == "shared"

            await eventually(as_the_client_asks)  # no health check needed to come back
            # several coroutines at once: the local spending is handed back once, then shared
            waits = await asyncio.gather(*(budget.reserve(SPOT, 1) for _ in range(5)))
            assert waits == [0] * 5
            assert (await shared_state(redis_prefix))["used"] == 30 + 25 + 5
            assert a.mode == "shared" and not budget.local
    finally:
        await proxy.close()


async def test_the_local_share_follows_the_live_instance_count() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"redis://127.0.0.1:{sock.getsockname()[1]}/0"
    live = [5]
    async with instances("kcgw:test:closed:", 1, url=url, live_instances=lambda: live[0]) as (a,):
        budget = a.for_key(UID)
        assert await budget.reserve(SPOT, 16) == 0  # 80% of 100 / 5 = 16
        assert await budget.reserve(SPOT, 1) > 0
        live[0] = 2
        assert await budget.reserve(SPOT, 24) == 0  # 80% of 50 = 40 = 16 + 24
        assert await budget.reserve(SPOT, 1) > 0
        live[0] = 0  # never below one instance
        assert await budget.reserve(SPOT, 40) == 0


async def test_a_redis_that_answers_with_errors_is_down_too() -> None:
    """Protected mode, AUTH required, OOM: every command answered ``-ERR``: the 1/N share."""

    async def denied(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(4096):  # whatever is asked, a refusal as Redis words it
            writer.write(b"-DENIED Redis is running in protected mode\r\n")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(denied, "127.0.0.1", 0)
    url = f"redis://127.0.0.1:{server.sockets[0].getsockname()[1]}/0"
    try:
        async with instances("kcgw:test:denied:", 1, url=url, live_instances=lambda: 4) as (a,):
            budget = a.for_key(UID)
            assert all([await budget.reserve(SPOT, 1) == 0 for _ in range(20)])
            assert await budget.reserve(SPOT, 1) > 0  # 1/4 of the quota, never unlimited
            assert a.mode == "local_share"
            assert await a.check() is False  # /readyz says "down" instead of crashing
    finally:
        server.close()
        await server.wait_closed()
