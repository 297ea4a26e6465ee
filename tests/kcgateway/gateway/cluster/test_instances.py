"""The instance registry: live instances counted, and SQLite refusing a second one."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kcgateway.errors import ConfigError
from kcgateway.gateway.cluster.instances import LIVE_WITHIN, InstanceRegistry
from kcgateway.store.database import Database
from tests.helpers.databases import sibling
from tests.kcgateway.gateway.cluster.test_leases import PG, Clock

SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@SQLITE
async def test_sqlite_refuses_a_second_live_instance_and_says_to_use_postgresql(
    db: Database,
) -> None:
    now = Clock()
    first = InstanceRegistry(db, "gw-1", now=now)
    await first.register()
    other = sibling(db)
    try:
        second = InstanceRegistry(other, "gw-2", now=now)
        with pytest.raises(ConfigError) as refused:
            await second.register()
        message = str(refused.value)
        assert "'gw-1'" in message and "PostgreSQL" in message and "KCGW_DATABASE_URL" in message
        await InstanceRegistry(other, "gw-1", now=now).register()  # a restart under its name
        now.advance(LIVE_WITHIN + timedelta(seconds=1))  # gw-1 died: its heartbeat went stale
        await second.register()
        assert await second.live_ids() == ["gw-2"] and second.live_instances() == 1
        await second.stopping()
        await second.remove()
        await first.register()  # a graceful stop frees the database at once
    finally:
        await other.aclose()


@PG
async def test_postgresql_counts_every_live_instance(db: Database) -> None:
    now = Clock()
    others = [sibling(db) for _ in range(2)]
    try:
        registries = [InstanceRegistry(d, f"gw-{i}", now=now) for i, d in enumerate([db, *others])]
        for registry in registries:
            await registry.register()
        assert await registries[0].heartbeat() == ["gw-0", "gw-1", "gw-2"]
        assert registries[0].live_instances() == 3
        await registries[2].stopping()  # a stopping instance no longer counts
        now.advance(LIVE_WITHIN - timedelta(seconds=1))
        await registries[1].heartbeat()
        now.advance(timedelta(seconds=2))  # gw-0's heartbeat is now older than 15 s
        assert await registries[1].live_ids() == ["gw-1"]
        assert registries[1].live_instances() == 1
    finally:
        for other in others:
            await other.aclose()
