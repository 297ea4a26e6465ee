"""Fenced account leases: each exchange account's background work belongs to one live instance.

An account's private order stream (``gateway/events.py``), its reconciliation and its stray
scan (``gateway/orders/reconcile.py``) run on the one instance holding the account's row in
``account_leases``. Invariants:

- a lease is taken or renewed by one conditional statement: a take (an INSERT of a missing row,
  or an UPDATE of an expired one) sets the owner and bumps ``epoch``, so the epoch grows by one
  on every move and two instances never hold the same epoch; a renewal (an UPDATE of the rows
  this instance owns) only moves ``expires_at``;
- a lease not renewed for :data:`LEASE_TTL` (the owner died, was paused or lost the database)
  may be taken by any live instance; a paused owner that wakes up still believes its old epoch,
  and every write it makes under that lease is refused (``store/fencing.py``: the lease is
  checked and locked in the write's own transaction) and counted
  (``kcgw_stale_epoch_writes_total``);
- fair share: with A accounts and N live instances nobody holds more than ceil(A/N) for long;
  an instance above it releases the excess (an instance joining gets leases within a tick or
  two) and an instance below it takes free leases. An expired lease that was never released
  (its owner died or is paused) is taken by the first instance that sees it, share or not,
  so it is owned again within one tick after :data:`LEASE_TTL`;
- a graceful shutdown releases every lease (expired at once), so the others take them on their
  next tick instead of waiting for the expiry.

Placement is never leased: any instance places orders; the intent rows keep them exactly-once.
Expiry compares ``expires_at`` with each instance's own clock: keep the clocks in step (NTP),
well within :data:`LEASE_TTL`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Executable, Update, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from kcgateway.gateway.cluster.instances import InstanceRegistry, Now
from kcgateway.store.cluster_tables import AccountLeaseRow
from kcgateway.store.database import Database
from kcgateway.store.fencing import Fence
from kcgateway.store.tables import ExchangeAccount
from kcgateway.tasks import stop_task

log = logging.getLogger("kcgateway.gateway.cluster")
L = AccountLeaseRow

#: a lease not renewed for this long may be taken by another instance
LEASE_TTL = timedelta(seconds=10)
#: how often the loop heartbeats and renews, takes and releases leases
TICK_S = 2.0
#: ``expires_at`` of a released lease: expired on every clock
RELEASED = datetime(1970, 1, 1, tzinfo=UTC)

Listener = Callable[[], Awaitable[None]]


class LeaseManager:
    """This instance's leases: the loop that keeps them, and the fence of each for writes."""

    def __init__(
        self,
        db: Database,
        registry: InstanceRegistry,
        *,
        now: Now,
        ttl: timedelta = LEASE_TTL,
        tick_s: float = TICK_S,
    ) -> None:
        self._db = db
        self.registry = registry
        self.instance_id = registry.instance_id
        self._now = now
        self.ttl = ttl
        self.tick_s = tick_s
        #: account id -> (epoch, expires_at) of each lease held
        self._held: dict[str, tuple[int, datetime]] = {}
        #: awaited after each tick that changed the leases held (the streams follow)
        self.on_change: list[Listener] = []
        self._task: asyncio.Task[None] | None = None
        self._stopped = False
        self._telling: asyncio.Task[None] | None = None
        self._tell_again = False

    def fence(self, account_id: str) -> Fence | None:
        """The lease held on the account, None if another instance owns it (or ours expired)."""
        held = self._held.get(account_id)
        if held is None or self._stopped or self._now() >= held[1]:
            return None
        return Fence(account_id, self.instance_id, held[0])

    def owned(self) -> dict[str, int]:
        """Each account whose lease this instance holds, with its epoch."""
        return {account: epoch for account, (epoch, _) in self._held.items()}

    async def start(self) -> None:
        """Register the instance, drop leases a previous run under this name held, tick once.

        Leases left by an earlier process with this ``instance_id`` are released first, so each
        is taken again under a new epoch: that process, if only paused, can write no more.
        """
        await self.registry.register()
        await self._release(None)
        await self.tick()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def tick(self) -> bool:
        """Heartbeat, renew, release the excess, take up to the fair share; True if changed.

        The renewal and the releases commit first; each take is then a transaction of its own,
        so no tick holds one lease row locked while it waits for another.
        """
        before = self.owned()
        await self.registry.heartbeat()
        if self.registry.displaced:  # another process runs under this name: it takes over
            self._stopped = True
            self._held = {}
            self._tell()
            return before != {}
        # the fair share counts the instances that renewed within a TTL: one paused longer
        # keeps no claim on a share (its leases are taken; keeping a share for it would only
        # leave them released and unowned until its heartbeat is 15 s old)
        live = await self.registry.live_ids(within=self.ttl)
        async with self._db.write() as session:
            accounts = set((await session.scalars(_ACTIVE_ACCOUNTS)).all())
            self._held = await self._renew(session, self._now())
            share = math.ceil(len(accounts) / max(1, len(live)))
            extra = [a for a in self._held if a not in accounts]  # removed accounts
            keep = sorted(set(self._held) - set(extra), key=self._rank)
            for account in extra + keep[share:]:
                await session.execute(self._releasing(account))
                self._held.pop(account)
        await self._take(sorted(accounts - set(self._held), key=self._rank), share)
        changed = self.owned() != before
        if changed:
            log.info("leases held by %s: %d", self.instance_id, len(self._held))
            self._tell()
        return changed

    def _tell(self) -> None:
        """Run the listeners in a task of their own (again if the leases change meanwhile).

        Opening the streams of many accounts must never hold the next renewal back.
        """
        if self._telling is None or self._telling.done():
            self._telling = asyncio.get_running_loop().create_task(self._tell_all())
        else:
            self._tell_again = True

    async def _tell_all(self) -> None:
        self._tell_again = True
        while self._tell_again:
            self._tell_again = False
            for listener in self.on_change:
                try:
                    await listener()
                except Exception:  # e.g. the database away: the streams' own rescan follows
                    log.exception("lease change listener failed")

    async def aclose(self) -> None:
        """Graceful shutdown: stop the loop, hand every lease over, leave the registry."""
        self._stopped = True  # no more leased work here, whatever the database says
        for task in (self._task, self._telling):
            await stop_task(task)
        self._task = self._telling = None
        if self.registry.displaced:  # the name's row and leases are the other process's now
            self._held = {}
            return
        try:
            await self.registry.stopping()
            await self._release(None)
            await self.registry.remove()
        except Exception:  # the leases expire by themselves within the TTL
            log.exception("lease handover failed: instance=%s", self.instance_id)
        self._held = {}

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            try:
                await self.tick()
            except Exception:  # database away: the leases expire, the next tick tries again
                log.exception("lease tick failed: instance=%s", self.instance_id)

    def _rank(self, account_id: str) -> str:
        """An order of accounts that differs per instance (fewer collisions on takes)."""
        return hashlib.sha256(f"{self.instance_id}\x00{account_id}".encode()).hexdigest()

    async def _renew(self, session: AsyncSession, now: datetime) -> dict[str, tuple[int, datetime]]:
        """Extend the leases this instance holds; those whose epoch moved on are not ours."""
        until = now + self.ttl
        query = (
            update(L)
            .where(L.owner_instance_id == self.instance_id, L.expires_at > RELEASED)
            .values(expires_at=until)
            .returning(L.account_id, L.epoch)
        )
        held = {a: epoch for a, (epoch, _) in self._held.items()}
        renewed = (await session.execute(query)).all()
        # an epoch we never took: another process started under this instance id took it
        return {a: (int(e), until) for a, e in renewed if held.get(a) == int(e)}

    async def _take(self, candidates: list[str], share: int) -> None:
        """Take free leases up to ``share``, and orphaned ones beyond it.

        Free: missing, released or expired. Orphaned: missing or expired without a release
        (its owner died or is paused, yet may still count as live for a few seconds): taken
        even beyond the fair share, so no account waits for the live count to catch up; the
        next ticks rebalance. A released lease is taken only within the share (else the
        instance that released it as excess would take it straight back).
        """
        async with self._db.read() as session:
            found = select(L.account_id, L.expires_at).where(L.account_id.in_(candidates))
            rows = {a: exp for a, exp in (await session.execute(found)).all()}
        for account in candidates:
            now = self._now()
            expires = rows.get(account)
            if expires is not None and expires > now:
                continue  # held by another live instance
            orphaned = expires is None or expires > RELEASED
            if len(self._held) >= share and not orphaned:
                continue
            until = now + self.ttl
            async with self._db.write() as session:
                query = self._taking(account, now, until, exists=expires is not None)
                epoch = (await session.execute(query)).scalar()
            if epoch is not None:  # else another instance was faster
                self._held[account] = (int(epoch), until)

    def _taking(self, account: str, now: datetime, until: datetime, *, exists: bool) -> Executable:
        """One conditional take of a lease, returning the new epoch (no row: not taken)."""
        if exists:  # expired: a new owner, the epoch one higher
            return (
                update(L)
                .where(L.account_id == account, L.expires_at <= now)
                .values(owner_instance_id=self.instance_id, epoch=L.epoch + 1, expires_at=until)
                .returning(L.epoch)
            )
        dialect = postgresql if self._db.engine.dialect.name == "postgresql" else sqlite
        values = {"account_id": account, "owner_instance_id": self.instance_id,
                  "epoch": 1, "expires_at": until}  # fmt: skip
        insert: Executable = (
            dialect.insert(L).values(values).on_conflict_do_nothing().returning(L.epoch)
        )
        return insert

    def _releasing(self, account_id: str | None) -> Update:
        """Release one of this instance's leases (None: all of them): expired on every clock."""
        query = update(L).where(L.owner_instance_id == self.instance_id)
        if account_id is not None:
            query = query.where(L.account_id == account_id)
        return query.values(expires_at=RELEASED)

    async def _release(self, account_id: str | None) -> None:
        async with self._db.write() as session:
            await session.execute(self._releasing(account_id))


_ACTIVE_ACCOUNTS = select(ExchangeAccount.id).where(ExchangeAccount.removed_at.is_(None))
