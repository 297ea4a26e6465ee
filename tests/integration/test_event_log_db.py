"""The event log on SQLite and PostgreSQL: a follower racing concurrent writers skips nothing.

On PostgreSQL ids come from a sequence, and concurrent transactions could commit out of id
order; the append takes the audit log's transaction lock, so a follower reading ``id > last``
while orders of two tenants are placed and cancelled concurrently sees every event once.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.event_feed import EventFeed, StoredEvent, filter_for
from kcgateway.store.database import open_database
from tests.helpers.gateway import gateway_stack
from tests.kcgateway.web.test_events_api import _place_and_cancel

ORDERS = 10  # per tenant
WAIT_S = 60.0  # hang protection only


async def _follow_until(feed: EventFeed, tenant_id: str, into: list[StoredEvent]) -> None:
    async for event in feed.follow(filter_for(tenant_id, {Scope.READ}), after=0):
        if event is not None:
            into.append(event)
            if event.data.get("state") == "cancelled" and len(into) >= 3 * ORDERS:
                cancelled = [e for e in into if e.data.get("state") == "cancelled"]
                if len(cancelled) == ORDERS:
                    return


@pytest.mark.postgres
@pytest.mark.parametrize("fresh_db_url", ["postgresql"], indirect=True)  # SQLite has one writer:
async def test_a_follower_racing_concurrent_writers_misses_nothing(  # test_events_api covers it
    tmp_path: Path, fresh_db_url: str
) -> None:
    async with gateway_stack(tmp_path, db=open_database(fresh_db_url)) as stack:
        one, two = await stack.add_tenant("t1"), await stack.add_tenant("t2")
        feed = stack.services.event_feed
        assert feed is not None
        seen: list[StoredEvent] = []
        follower = asyncio.create_task(_follow_until(feed, one.id, seen))
        await asyncio.gather(
            _place_and_cancel(stack, one, ORDERS), _place_and_cancel(stack, two, ORDERS)
        )
        await asyncio.wait_for(follower, WAIT_S)
        stored = await feed.page(filter_for(one.id, {Scope.READ}), after=0, limit=1000)
        assert [e.id for e in seen] == [e.id for e in stored]
        assert {e.account_id for e in seen} == {one.account_id}
