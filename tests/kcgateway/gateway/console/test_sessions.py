"""Console sessions: exchanged for a key once, then as strong as that key, and no longer."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from kcgateway.errors import Forbidden, NoSuchKey, PermissionDenied, Unauthenticated
from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.console import ConsoleSessions, SessionPolicy
from kcgateway.gateway.console.sessions import csrf_of, token_id
from kcgateway.gateway.keys import KeyService, Operator
from kcgateway.secret import Secret
from kcgateway.store.database import Database
from kcgateway.store.repositories import TenantRepository
from kcgateway.store.tables import ConsoleLinkRow, ConsoleSessionRow
from tests.helpers import leaksuite

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
IP = "192.0.2.10"


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class World:
    db: Database
    keys: KeyService
    sessions: ConsoleSessions
    clock: Clock
    tenant_id: str

    async def key(self, *scopes: Scope, ip_allowlist: tuple[str, ...] = ()) -> str:
        full, _ = await self.keys.create(
            tenant_id=self.tenant_id, owner="alice", scopes=frozenset(scopes),
            ip_allowlist=ip_allowlist, actor=Operator("test"),
        )  # fmt: skip
        key = full.reveal()
        leaksuite.register_gateway_key(key)
        return key


@pytest.fixture
async def world(db: Database) -> World:
    clock = Clock()
    pepper = secrets.token_hex(32)
    leaksuite.register("pepper", pepper)
    keys = KeyService(db, Secret(pepper), now=clock)
    async with db.write() as session:
        tenant_id = await TenantRepository(session).add("t1", now=START)
    policy = SessionPolicy(idle=timedelta(minutes=30), absolute=timedelta(hours=12))
    return World(db, keys, ConsoleSessions(db, keys, policy=policy, now=clock), clock, tenant_id)


async def test_a_key_opens_a_session_with_its_scopes_and_only_the_token_hash_is_stored(
    world: World,
) -> None:
    key = await world.key(Scope.READ)
    token, opened = await world.sessions.sign_in(key, IP)
    leaksuite.register("session token", token.reveal())
    resumed = await world.sessions.resume(token.reveal(), IP)
    assert resumed.principal.scopes == frozenset({Scope.READ})
    assert resumed.csrf == opened.csrf == csrf_of(token.reveal())
    assert resumed.can(Scope.READ) and not resumed.can(Scope.TRADE_SPOT)
    with pytest.raises(PermissionDenied):
        resumed.require(Scope.TRADE_SPOT)
    async with world.db.read() as session:
        [stored] = (await session.scalars(select(ConsoleSessionRow))).all()
    assert stored.id == token_id(token.reveal()) != token.reveal()
    # a wrong key opens nothing; no token, or a made-up one, resumes nothing
    with pytest.raises(Unauthenticated):
        await world.sessions.sign_in(key[:-4] + "AAAA", IP)
    with pytest.raises(Unauthenticated):
        await world.sessions.resume("not-a-token", IP)
    with pytest.raises(Unauthenticated):
        await world.sessions.resume(None, IP)


async def test_idle_and_absolute_timeouts(world: World) -> None:
    token, _ = await world.sessions.sign_in(await world.key(Scope.READ), IP)
    for _ in range(4):  # two hours of a request every 25 minutes
        world.clock.advance(minutes=25)
        await world.sessions.resume(token.reveal(), IP)
    for _ in range(5):  # a page refreshing itself is not activity
        world.clock.advance(minutes=5)
        await world.sessions.resume(token.reveal(), IP, touch=False)
    world.clock.advance(minutes=6)
    with pytest.raises(Unauthenticated):
        await world.sessions.resume(token.reveal(), IP)
    # the absolute timeout ends even a busy session
    policy = SessionPolicy(idle=timedelta(minutes=30), absolute=timedelta(hours=1))
    sessions = ConsoleSessions(world.db, world.keys, policy=policy, now=world.clock)
    token, opened = await sessions.sign_in(await world.key(Scope.READ), IP)
    assert opened.expires_at == world.clock.now + timedelta(hours=1)
    while world.clock.now + timedelta(minutes=20) < opened.expires_at:
        world.clock.advance(minutes=20)
        await sessions.resume(token.reveal(), IP)
    world.clock.advance(minutes=20)
    with pytest.raises(Unauthenticated):
        await sessions.resume(token.reveal(), IP)
    # a week after their end, sessions are deleted (at the next sign-in)
    world.clock.advance(days=8)
    await sessions.sign_in(await world.key(Scope.READ), IP)
    async with world.db.read() as session:
        ids = (await session.scalars(select(ConsoleSessionRow.id))).all()
    assert token_id(token.reveal()) not in ids and len(ids) == 1


async def test_sign_out_revokes_server_side(world: World) -> None:
    token, opened = await world.sessions.sign_in(await world.key(Scope.READ), IP)
    assert await world.sessions.sign_out(token.reveal())
    assert await world.sessions.is_revoked(opened.session_id)
    with pytest.raises(Unauthenticated):
        await world.sessions.resume(token.reveal(), IP)
    assert not await world.sessions.sign_out(token.reveal())  # once is enough
    assert not await world.sessions.sign_out(None)


async def test_the_key_revoked_or_refusing_the_address_ends_its_sessions(world: World) -> None:
    key = await world.key(Scope.READ)
    token, opened = await world.sessions.sign_in(key, IP)
    await world.keys.revoke(world.tenant_id, opened.principal.key_id, actor=Operator("test"))
    with pytest.raises(Unauthenticated):
        await world.sessions.resume(token.reveal(), IP)
    key = await world.key(Scope.READ, ip_allowlist=(f"{IP}/32",))
    token, _ = await world.sessions.sign_in(key, IP)
    await world.sessions.resume(token.reveal(), IP)
    with pytest.raises(Unauthenticated):
        await world.sessions.resume(token.reveal(), "198.51.100.1")


async def test_the_csrf_token_is_the_sessions_own(world: World) -> None:
    token, opened = await world.sessions.sign_in(await world.key(Scope.READ), IP)
    other, _ = await world.sessions.sign_in(await world.key(Scope.READ), IP)
    opened.check_csrf(csrf_of(token.reveal()))
    for wrong in (None, "", csrf_of(other.reveal())):
        with pytest.raises(Forbidden):
            opened.check_csrf(wrong)


async def test_a_one_time_link_opens_one_session_for_its_key_within_five_minutes(
    world: World,
) -> None:
    key = await world.key(Scope.READ, Scope.TRADE_SPOT)
    key_id = key.split("_")[1]
    link = await world.sessions.issue_link(key_id)
    leaksuite.register("link token", link.reveal())
    async with world.db.read() as session:
        [stored] = (await session.scalars(select(ConsoleLinkRow))).all()
    assert stored.id == token_id(link.reveal()) and stored.key_id == key_id
    token, opened = await world.sessions.redeem_link(link.reveal(), IP)
    assert opened.principal.key_id == key_id
    assert opened.principal.scopes == frozenset({Scope.READ, Scope.TRADE_SPOT})
    await world.sessions.resume(token.reveal(), IP)
    with pytest.raises(Unauthenticated):  # spent
        await world.sessions.redeem_link(link.reveal(), IP)
    for bad in (None, "", "x" * 500, "not-a-link"):
        with pytest.raises(Unauthenticated):
            await world.sessions.redeem_link(bad, IP)

    late = await world.sessions.issue_link(key_id)
    world.clock.advance(minutes=5)
    with pytest.raises(Unauthenticated):
        await world.sessions.redeem_link(late.reveal(), IP)
    with pytest.raises(NoSuchKey):
        await world.sessions.issue_link("nosuchkey")


async def test_a_link_is_only_as_good_as_its_key_when_it_is_used(world: World) -> None:
    key = await world.key(Scope.READ, ip_allowlist=(f"{IP}/32",))
    key_id = key.split("_")[1]
    link = await world.sessions.issue_link(key_id)
    with pytest.raises(Unauthenticated):  # the key's allow-list holds for the link too
        await world.sessions.redeem_link(link.reveal(), "198.51.100.1")
    link = await world.sessions.issue_link(key_id)
    await world.keys.revoke(world.tenant_id, key_id, actor=Operator("test"))
    with pytest.raises(Unauthenticated):
        await world.sessions.redeem_link(link.reveal(), IP)
    with pytest.raises(NoSuchKey):  # no new link for a revoked key
        await world.sessions.issue_link(key_id)
