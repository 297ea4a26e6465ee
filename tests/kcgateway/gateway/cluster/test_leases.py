"""Fenced account leases: one owner per account, epochs that grow, stale writers refused.

Several instances are several :class:`LeaseManager` objects, each on its own database engine
(``sibling``), as separate processes would be. Time is a shared fake clock, so expiry is
exact and no test sleeps. Several live instances on one database need PostgreSQL (SQLite
refuses a second one: ``test_instances.py``); the single-instance cases run on both.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from kcgateway.errors import LeaseLost
from kcgateway.gateway.cluster.instances import InstanceRegistry
from kcgateway.gateway.cluster.leases import LEASE_TTL, LeaseManager
from kcgateway.gateway.orders.lifecycle import Intents, under_lease
from kcgateway.store.cluster_tables import AccountLeaseRow
from kcgateway.store.database import Database
from kcgateway.store.ledger import NewIntent, OrderIntentRepository
from kcgateway.store.repositories import AccountRepository, TenantRepository
from kcgateway.store.tables import OrderIntent
from kcgateway.store.types import OrderState
from tests.helpers.databases import sibling

S = OrderState
#: several live instances: PostgreSQL only (the ``db`` fixture's PostgreSQL case alone)
PG = pytest.mark.parametrize(
    "db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


@dataclass
class Clock:
    at: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> None:
        self.at += delta


@dataclass
class Cluster:
    db: Database
    clock: Clock
    accounts: list[str]
    managers: list[LeaseManager] = field(default_factory=list)
    opened: list[Database] = field(default_factory=list)

    async def join(self, name: str) -> LeaseManager:
        """Start an instance called ``name`` on its own engine."""
        db = sibling(self.db)
        self.opened.append(db)
        manager = LeaseManager(db, InstanceRegistry(db, name, now=self.clock), now=self.clock)
        manager.tick_s = 3600  # the tests tick by hand
        await manager.start()
        self.managers.append(manager)
        return manager

    async def rounds(self, n: int = 3) -> None:
        for _ in range(n):
            for manager in self.managers:
                if not manager._stopped:
                    await manager.tick()

    async def rows(self) -> dict[str, tuple[str, int]]:
        async with self.db.read() as session:
            rows = (await session.scalars(select(AccountLeaseRow))).all()
        return {r.account_id: (r.owner_instance_id, r.epoch) for r in rows}

    def assert_one_owner_each(self, live: list[LeaseManager]) -> None:
        owned = [set(m.owned()) for m in live]
        assert set().union(*owned) == set(self.accounts)
        assert sum(map(len, owned)) == len(self.accounts)  # no account held twice
        share = math.ceil(len(self.accounts) / len(live))
        assert max(map(len, owned)) <= share


@pytest.fixture
async def cluster(db: Database) -> AsyncIterator[Cluster]:
    now = Clock()
    async with db.write() as session:
        tenant = await TenantRepository(session).add("t", now=now())
        accounts = [
            str(await AccountRepository(session).add(tenant, f"a{i}", now=now())) for i in range(5)
        ]
    made = Cluster(db, now, accounts)
    try:
        yield made
    finally:
        for manager in made.managers:
            manager._stopped = True
            if manager._task is not None:
                manager._task.cancel()
        for opened in made.opened:
            await opened.aclose()


async def _intent(db: Database, account_id: str, now: datetime) -> OrderIntent:
    async with db.write() as session:
        repo = OrderIntentRepository(session)
        intent_id = await repo.add(
            NewIntent(account_id, f"oid-{account_id[:8]}", "BTC-USDT", "buy", "limit",
                      state=S.SENT), now=now,
        )  # fmt: skip
        row = await repo.get(intent_id)
    assert row is not None
    return row


def _intents(db: Database, now: Callable[[], datetime], stale: list[int]) -> Intents:
    intents = Intents(db, None, None, now)  # type: ignore[arg-type]  # moves only: no venue
    intents.on_stale_epoch = lambda: stale.append(1)
    return intents


async def test_a_single_instance_owns_every_account(cluster: Cluster) -> None:
    only = await cluster.join("solo")
    cluster.assert_one_owner_each([only])
    rows = await cluster.rows()
    assert {owner for owner, _ in rows.values()} == {"solo"}
    assert {epoch for _, epoch in rows.values()} == {1}
    fence = only.fence(cluster.accounts[0])
    assert fence is not None and fence.epoch == 1 and fence.owner == "solo"


async def test_a_fenced_write_passes_and_a_stale_one_is_refused_in_its_transaction(
    cluster: Cluster,
) -> None:
    """A restart under the same name retakes the leases with new epochs: the old run's fence
    (a paused process of that name) writes nothing more, and the refusal is counted."""
    first = await cluster.join("gw")
    account = cluster.accounts[0]
    old = first.fence(account)
    row = await _intent(cluster.db, account, cluster.clock())
    stale: list[int] = []
    intents = _intents(cluster.db, cluster.clock, stale)
    with under_lease(old):
        assert await intents.move(row, S.SENT, S.UNKNOWN, actor="reconciler") is not None
    again = await cluster.join("gw")  # the same name again: every lease taken anew
    new = again.fence(account)
    assert old is not None and new is not None and new.epoch == old.epoch + 1
    with under_lease(old), pytest.raises(LeaseLost) as refused:
        await intents.move(row, S.UNKNOWN, S.NOT_PLACED, actor="reconciler")
    assert refused.value.epoch == old.epoch and stale == [1]
    assert (await intents.view_of(row.id)).state is S.UNKNOWN  # nothing was written
    with under_lease(new):
        assert await intents.move(row, S.UNKNOWN, S.OPEN, actor="stream") is not None
    assert stale == [1]


@PG
async def test_three_instances_share_the_accounts_one_owner_each(cluster: Cluster) -> None:
    a = await cluster.join("a")
    b = await cluster.join("b")
    c = await cluster.join("c")
    await cluster.rounds()
    cluster.assert_one_owner_each([a, b, c])
    rows = await cluster.rows()
    for manager in (a, b, c):  # what each believes is what the database says
        assert {acc for acc, (owner, _) in rows.items() if owner == manager.instance_id} == set(
            manager.owned()
        )
        assert all(rows[acc][1] == epoch for acc, epoch in manager.owned().items())


@PG
async def test_rebalance_on_join_moves_leases_with_a_higher_epoch(cluster: Cluster) -> None:
    a = await cluster.join("a")
    before = a.owned()
    assert set(before) == set(cluster.accounts)
    b = await cluster.join("b")
    await cluster.rounds()
    cluster.assert_one_owner_each([a, b])
    assert len(b.owned()) == 2 and len(a.owned()) == 3
    for account, epoch in b.owned().items():  # each move bumped the epoch
        assert epoch == before[account] + 1
    assert all(a.owned()[acc] == before[acc] for acc in a.owned())  # the rest stayed put


@PG
async def test_a_paused_owner_loses_its_leases_at_expiry_and_cannot_write(
    cluster: Cluster,
) -> None:
    a = await cluster.join("a")
    b = await cluster.join("b")
    await cluster.rounds()
    account = next(iter(a.owned()))
    held = a.fence(account)  # a coroutine of a's was about to write when a was paused
    row = await _intent(cluster.db, account, cluster.clock())
    cluster.clock.advance(LEASE_TTL / 2)
    await b.tick()
    assert account not in b.owned()  # not expired yet: nobody takes it
    cluster.clock.advance(LEASE_TTL / 2 + timedelta(seconds=1))
    await b.tick()  # a is paused: it renews nothing
    await b.tick()
    assert set(b.owned()) == set(cluster.accounts)  # every lease moved within the bound
    new = b.fence(account)
    assert held is not None and new is not None and new.epoch == held.epoch + 1
    stale: list[int] = []
    woken = _intents(sibling(cluster.db), cluster.clock, stale)
    cluster.opened.append(woken._db)
    with under_lease(held), pytest.raises(LeaseLost):  # a wakes up and writes: refused
        await woken.move(row, S.SENT, S.UNKNOWN, actor="reconciler")
    assert stale == [1]
    assert a.fence(account) is None  # a's own view: its lease ran out
    await a.tick()  # a's next tick learns the truth and takes its fair share back
    await cluster.rounds()
    cluster.assert_one_owner_each([a, b])
    assert account not in a.owned() or a.owned()[account] == new.epoch + 1


@PG
async def test_graceful_shutdown_hands_every_lease_over_at_once(cluster: Cluster) -> None:
    a = await cluster.join("a")
    b = await cluster.join("b")
    await cluster.rounds()
    handed = a.owned()
    assert handed
    await a.aclose()
    assert a.owned() == {} and a.fence(next(iter(handed))) is None
    await b.tick()  # no clock advance: released leases are free at once
    assert set(b.owned()) == set(cluster.accounts)
    for account, epoch in handed.items():
        assert b.owned()[account] == epoch + 1
    assert await b.registry.live_ids() == ["b"]


@PG
async def test_concurrent_ticks_never_give_one_account_two_owners(cluster: Cluster) -> None:
    """Every manager ticks at once, again and again, while the clock runs past expiries."""
    managers = [await cluster.join(name) for name in ("a", "b", "c")]
    for step in range(6):
        await asyncio.gather(*(m.tick() for m in managers))
        rows = await cluster.rows()
        for manager in managers:  # nobody believes in a lease the database gives another
            for account, epoch in manager.owned().items():
                assert rows[account] == (manager.instance_id, epoch)
        if step == 2:  # c pauses past the TTL: its leases go to a and b, with new epochs
            managers.pop()
            cluster.clock.advance(LEASE_TTL + timedelta(seconds=1))
    cluster.assert_one_owner_each(managers)


async def test_a_second_process_under_the_same_name_displaces_the_first(cluster: Cluster) -> None:
    """Two processes started with one instance id (a copied config): the later one works, the
    earlier stops its leased work at its next heartbeat instead of sharing the name's leases."""
    first = await cluster.join("gw")
    cluster.clock.advance(timedelta(seconds=1))  # its start time tells the later one apart
    later = await cluster.join("gw")
    await first.tick()
    assert first.registry.displaced and first.owned() == {}
    assert first.fence(cluster.accounts[0]) is None
    await first.aclose()  # its stop leaves the later one's row and leases alone
    await later.tick()
    assert not later.registry.displaced
    assert set(later.owned()) == set(cluster.accounts)
    assert all(epoch == 2 for epoch in later.owned().values())  # each taken anew by `later`
    assert await later.registry.live_ids() == ["gw"]
