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

import httpx

from kcgateway.gateway.cluster.bus import PgBus
from kcgateway.store.database import open_database
from tests.helpers.gateway import Stack, instance

#: how long a propagated change may take before a test calls it lost (generous: CI load)
WITHIN_S = 30.0


@asynccontextmanager
async def peer(stack: Stack, url: str, *, listen: bool = True, resync_s: float = 3600.0
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


async def until(check: Callable[[], Awaitable[bool]], within_s: float = WITHIN_S) -> float:
    """Poll ``check`` until it holds; the seconds it took (fails after ``within_s``)."""
    began = time.monotonic()
    while not await check():
        assert time.monotonic() - began < within_s, "the change never arrived"
        await asyncio.sleep(0.005)
    return time.monotonic() - began
