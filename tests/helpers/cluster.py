"""A second gateway instance beside a :func:`~tests.helpers.gateway.gateway_stack`.

Same database (its own engine and pool, as another process would have), same simulator, same
KEK and pepper (so the keys issued on one authenticate on the other), its own services, caches
and change bus: what two ``kcgateway serve`` processes on one PostgreSQL share, and no more.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from kcgateway.gateway.cluster.bus import PgBus
from kcgateway.store.database import open_database
from tests.helpers.gateway import Stack, Tenant, gateway_stack, instance

#: how long a propagated change may take before a test calls it lost (generous: CI load)
WITHIN_S = 30.0
#: the re-read period of buses that must not re-read during a test
HOUR = 3600.0


@asynccontextmanager
async def peer(stack: Stack, url: str, *, listen: bool = True, resync_s: float = HOUR
               ) -> AsyncIterator[Stack]:  # fmt: skip
    """Another instance on ``url`` (the database ``stack`` uses), with a started PgBus.

    ``resync_s`` defaults to an hour so a test sees only what the notifications deliver;
    ``listen=False`` leaves only the periodic re-read.
    """
    assert stack.settings and stack.ring and stack.pepper and stack.limits
    db = open_database(url)
    bus = PgBus(db, resync_s=resync_s, listen=listen)
    services, app = await instance(
        stack.settings, db, stack.ring, stack.pepper, stack.sim, stack.limits, bus
    )
    if listen:
        await asyncio.wait_for(bus.wait_listening(), WITHIN_S)
    other = Stack(stack.sim, services, app, httpx.AsyncClient(), stack.session, ring=stack.ring)
    other.tenants = stack.tenants
    other.http = other.client()
    try:
        yield other
    finally:
        await other.http.aclose()
        await services.aclose()


@pytest.fixture
async def instances(
    tmp_path: Path, fresh_db_url: str
) -> AsyncIterator[tuple[Stack, Stack, Tenant]]:
    """Instance A (with tenant t1) and instance B on one database, both listening.

    Neither re-reads during the test and B keeps key rows an hour: what B learns, it learns
    from the notifications.
    """
    db = open_database(fresh_db_url)
    bus = PgBus(db, resync_s=HOUR)
    async with gateway_stack(tmp_path, db=db, bus=bus) as a:
        await asyncio.wait_for(bus.wait_listening(), WITHIN_S)
        tenant = await a.add_tenant("t1")
        async with peer(a, fresh_db_url) as b:
            b.services.keys.row_ttl = timedelta(hours=1)
            yield a, b, tenant


async def until(check: Callable[[], Awaitable[bool]], within_s: float = WITHIN_S) -> float:
    """Poll ``check`` until it holds; the seconds it took (fails after ``within_s``)."""
    began = time.monotonic()
    while not await check():
        assert time.monotonic() - began < within_s, "the change never arrived"
        await asyncio.sleep(0.005)
    return time.monotonic() - began
