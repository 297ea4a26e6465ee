"""The registry of running gateway instances: who is live, heartbeated in the database.

Each instance registers its row in ``gateway_instances`` at start, heartbeats it every few
seconds (the lease loop in :mod:`.leases` does), marks it ``stopping`` when it begins a graceful
shutdown and deletes it at the end. An instance is *live* while its heartbeat is younger than
:data:`LIVE_WITHIN` and it is not stopping: the lease fair share and the rate budget's 1/N
fallback share (``live_instances``) count those.

SQLite serves one instance: :meth:`InstanceRegistry.register` refuses to start a second live
instance (another ``instance_id`` heartbeating in the same database) with a
:class:`~kcgateway.errors.ConfigError` that says to use PostgreSQL.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from kcgateway.errors import ConfigError
from kcgateway.store.cluster_tables import GatewayInstanceRow
from kcgateway.store.database import Database

log = logging.getLogger("kcgateway.gateway.cluster")
Now = Callable[[], datetime]
Row = GatewayInstanceRow

#: an instance whose heartbeat is older than this counts as gone
LIVE_WITHIN = timedelta(seconds=15)


def sqlite_refusal(other: str, age: timedelta) -> ConfigError:
    """The error a second instance on one SQLite database gets: what is wrong, what to do."""
    return ConfigError(
        f"another gateway instance ({other!r}, heartbeat {age.total_seconds():.0f} s ago) runs "
        "on this SQLite database, and SQLite serves a single instance. To run several "
        "instances, use PostgreSQL (KCGW_DATABASE_URL=postgresql+asyncpg://...; see the "
        "README, 'Several instances'). If that instance has stopped, start again in "
        f"{LIVE_WITHIN.total_seconds():.0f} s."
    )


class InstanceRegistry:
    """This instance's row in ``gateway_instances`` and the count of live instances."""

    def __init__(self, db: Database, instance_id: str, *, now: Now, address: str = "") -> None:
        self._db = db
        self.instance_id = instance_id
        self.address = address
        self._now = now
        self._live = 1  # this one, until the first read
        self._started: datetime | None = None
        #: another process registered under this instance id after this one (set by heartbeat)
        self.displaced = False

    async def register(self) -> None:
        """Insert (or take back) this instance's row; on SQLite refuse a second live instance."""
        now = self._now()
        async with self._db.write() as session:
            if self._db.is_sqlite:
                query = select(Row.instance_id, Row.heartbeat_at).where(
                    Row.instance_id != self.instance_id,
                    Row.heartbeat_at > now - LIVE_WITHIN,
                    Row.stopping.is_(False),
                )
                other = (await session.execute(query.limit(1))).first()
                if other is not None:
                    raise sqlite_refusal(other[0], now - other[1])
            row = await session.get(Row, self.instance_id)
            if row is None:
                fresh = Row(instance_id=self.instance_id, address=self.address, started_at=now,
                            heartbeat_at=now, stopping=False)  # fmt: skip
                session.add(fresh)
            else:  # a restart under the same name (its leases are retaken with new epochs)
                row.address, row.started_at, row.heartbeat_at, row.stopping = (
                    self.address, now, now, False,
                )  # fmt: skip
        self._started = now
        log.info("gateway instance registered: %s", self.instance_id)
        await self.live_ids()

    async def heartbeat(self) -> list[str]:
        """Refresh this instance's heartbeat; the live instances' ids (this one included)."""
        now = self._now()
        query = (
            update(Row)
            .where(Row.instance_id == self.instance_id, Row.started_at == self._started)
            .values(heartbeat_at=now, stopping=False)
        )
        taken = None
        async with self._db.write() as session:
            beat = bool(getattr(await session.execute(query), "rowcount", 0))
            if not beat:
                taken = await session.get(Row, self.instance_id)
        if not beat:
            if taken is None:  # someone deleted the row: register again
                await self.register()
            elif not self.displaced:
                self.displaced = True
                log.error(
                    "another gateway process started under instance id %r: this one stops its "
                    "leased work (streams, reconciliation); give each instance its own "
                    "--instance-id",
                    self.instance_id,
                )
        return await self.live_ids()

    async def live_ids(self, within: timedelta = LIVE_WITHIN) -> list[str]:
        """The ids of the instances heartbeating within ``within``, this one included, sorted.

        The count with the default bound is remembered for :meth:`live_instances`.
        """
        query = select(Row.instance_id).where(
            Row.heartbeat_at > self._now() - within, Row.stopping.is_(False)
        )
        async with self._db.read() as session:
            ids = sorted(set((await session.scalars(query)).all()) | {self.instance_id})
        if within == LIVE_WITHIN:
            self._live = len(ids)
        return ids

    def live_instances(self) -> int:
        """How many instances are live (as of the last heartbeat; at least this one)."""
        return self._live

    async def stopping(self) -> None:
        """Mark this instance as shutting down: the others stop counting it at once."""
        query = update(Row).where(Row.instance_id == self.instance_id).values(stopping=True)
        async with self._db.write() as session:
            await session.execute(query)

    async def remove(self) -> None:
        """Delete this instance's row (the end of a graceful shutdown)."""
        async with self._db.write() as session:
            await session.execute(delete(Row).where(Row.instance_id == self.instance_id))
