"""Lockout (issue 12, finding 3): failures count per source address and per (key id, address).

A correct secret is never refused because of failures on its key id; it is refused only from an
address that is itself in backoff or suspended for its own failures. Suspensions are persisted:
they survive a new KeyService (a restart), are listed, and are lifted with an audited reason,
also from another process (the CLI) within RECHECK_EVERY.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kcgateway.errors import Forbidden, ValidationError
from kcgateway.gateway import apikeys, keys
from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.failures import FailureTracker
from kcgateway.gateway.keys import (
    RECHECK_EVERY,
    KeyService,
    NoSuchSuspension,
    Operator,
    Principal,
    Unauthenticated,
)
from kcgateway.secret import Secret
from kcgateway.store.database import Database
from kcgateway.store.ledger import AuditRepository
from kcgateway.store.repositories import TenantRepository
from tests.helpers import leaksuite
from tests.helpers.databases import sqlite_database

START = datetime(2026, 6, 1, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    db: Database
    pepper: Secret
    clock: Clock
    tenant_id: str
    services: list[KeyService] = field(default_factory=list)

    def service(self, **tracker: int) -> KeyService:
        """A KeyService on the same database: a restart, or another process (the CLI)."""
        made = KeyService(self.db, self.pepper, tracker=FailureTracker(**tracker), now=self.clock)
        self.services.append(made)
        return made

    async def key(self, service: KeyService, *scopes: Scope) -> str:
        full, _ = await service.create(
            tenant_id=self.tenant_id, owner="bot", scopes=frozenset(scopes), actor=Operator("t")
        )
        leaksuite.register_gateway_key(full.reveal())
        return full.reveal()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    db = await sqlite_database(tmp_path / "keys.db")
    pepper = secrets.token_hex(32)
    leaksuite.register("pepper", pepper)
    try:
        async with db.write() as session:
            tenant_id = await TenantRepository(session).add("t1", now=START)
        yield World(db, Secret(pepper), Clock(), tenant_id)
    finally:
        await db.aclose()


def bearer(key: str) -> str:
    return f"Bearer {key}"


def forged(key: str) -> str:
    presented = apikeys.parse_key(key)
    assert presented is not None
    body = f"kgw_{presented.key_id}_{apikeys.base62(secrets.token_bytes(32), apikeys.SECRET_LEN)}"
    return bearer(f"{body}_{apikeys.checksum(body)}")


async def refused(service: KeyService, header: str, ip: str) -> int | None:
    with pytest.raises(Unauthenticated) as info:
        await service.authenticate(header, ip)
    return info.value.retry_after_s


async def test_forgeries_for_a_key_id_never_refuse_its_correct_secret(world: World) -> None:
    """On the old main 20 forgeries (from anywhere) suspended the key id itself."""
    service = world.service(backoff_after=5, suspend_after=20)
    victim = await world.key(service, Scope.READ)
    for n in range(8):  # 8 addresses x 4 forgeries: 32 failures on the key id
        for _ in range(4):
            assert await refused(service, forged(victim), f"198.51.100.{n}") is None
    for ip in ("203.0.113.9", "198.51.100.0"):  # elsewhere, and where forgeries came from
        principal = await service.authenticate(bearer(victim), ip)
        assert principal.scopes == frozenset({Scope.READ})


async def test_a_suspended_key_id_at_an_address_still_accepts_its_secret(world: World) -> None:
    service = world.service(backoff_after=3, suspend_after=5)
    victim = await world.key(service, Scope.READ)
    mine = await world.key(service, Scope.READ)
    for _ in range(5):  # forge, then reset the address counter with a valid key of one's own
        assert await refused(service, forged(victim), "192.0.2.7") is None
        await service.authenticate(bearer(mine), "192.0.2.7")
    [row] = await service.suspensions(actor=Operator())
    assert row.target == f"{victim.split('_')[1]}@192.0.2.7" and row.failures == 5
    assert (await service.authenticate(bearer(victim), "192.0.2.7")).key_id == row.key_id
    # wrong secrets keep failing the same way, with the one HMAC each
    assert await refused(service, forged(victim), "192.0.2.7") is None


async def test_an_address_is_backed_off_then_suspended_for_its_own_failures(
    world: World,
) -> None:
    service = world.service(backoff_after=3, suspend_after=6, base_ms=1000)
    good = await world.key(service, Scope.READ)
    junk = bearer("kgw_not_a_key")
    for _ in range(3):
        assert await refused(service, junk, "192.0.2.8") is None
    assert await refused(service, bearer(good), "192.0.2.8") == 1, "backoff: even a good key"
    for _ in range(3):
        world.clock.now += timedelta(minutes=10)
        await refused(service, junk, "192.0.2.8")
    assert await refused(service, bearer(good), "192.0.2.8") == -1, "suspended"
    await service.authenticate(bearer(good), "192.0.2.99")  # other addresses are unaffected


async def test_suspensions_survive_a_restart_and_lifting_is_audited(world: World) -> None:
    first = world.service(backoff_after=10**6, suspend_after=3)
    good = await world.key(first, Scope.READ)
    for _ in range(3):
        await refused(first, forged(good), "192.0.2.20")
    restarted = world.service(backoff_after=10**6, suspend_after=3)
    assert await refused(restarted, bearer(good), "192.0.2.20") == -1
    listed = {v.target for v in await restarted.suspensions(actor=Operator())}
    assert listed == {"192.0.2.20", f"{good.split('_')[1]}@192.0.2.20"}
    with pytest.raises(NoSuchSuspension):
        await restarted.unsuspend("192.0.2.21", actor=Operator("ops"), reason="typo")
    view = await restarted.unsuspend(" 192.0.2.20 ", actor=Operator("ops"), reason="our NAT")
    assert view.key_id is None and view.address == "192.0.2.20"
    assert (await restarted.authenticate(bearer(good), "192.0.2.20")).scopes == {Scope.READ}
    async with world.db.read() as session:
        records = [r for r in await AuditRepository(session).all() if r.action == "key.unsuspended"]
    [lifted] = records
    assert lifted.actor == "ops" and lifted.subject == "ip:192.0.2.20"
    assert lifted.detail["reason"] == "our NAT"
    suspended = [r for r in await _audit(world) if r.action == "key.suspended"]
    assert {r.subject for r in suspended} == {"ip:192.0.2.20", f"key:{view_key(good)}@192.0.2.20"}


def view_key(key: str) -> str:
    return key.split("_")[1]


async def _audit(world: World) -> list[Any]:
    async with world.db.read() as session:
        return list(await AuditRepository(session).all())


async def test_a_lift_by_another_process_reaches_the_gateway(world: World) -> None:
    gateway = world.service(backoff_after=10**6, suspend_after=2)
    good = await world.key(gateway, Scope.READ)
    for _ in range(2):
        await refused(gateway, forged(good), "192.0.2.30")
    cli = world.service()
    await cli.unsuspend("192.0.2.30", actor=Operator("cli"), reason="checked")
    assert await refused(gateway, bearer(good), "192.0.2.30") == -1, "not re-read yet"
    world.clock.now += RECHECK_EVERY
    assert (await gateway.authenticate(bearer(good), "192.0.2.30")).key_id == view_key(good)


async def test_a_key_lifts_only_its_tenants_key_suspensions(world: World) -> None:
    service = world.service(backoff_after=10**6, suspend_after=2)
    reader = await world.key(service, Scope.READ)
    for _ in range(2):
        await refused(service, forged(reader), "192.0.2.40")
    manager = Principal("m" * 12, world.tenant_id, "m", frozenset({Scope.KEYS_MANAGE}))
    assert [v.target for v in await service.suspensions(actor=manager)] == [
        f"{view_key(reader)}@192.0.2.40"
    ]
    with pytest.raises(Forbidden, match="read"):
        await service.unsuspend(f"{view_key(reader)}@192.0.2.40", actor=manager, reason="x")
    with pytest.raises(Forbidden, match=r"kcgateway keys unsuspend 192\.0\.2\.40"):
        await service.unsuspend("192.0.2.40", actor=manager, reason="x")
    stranger = Principal("s" * 12, "other-tenant", "s", frozenset({Scope.ADMIN}))
    assert await service.suspensions(actor=stranger) == []
    with pytest.raises(NoSuchSuspension):
        await service.unsuspend(f"{view_key(reader)}@192.0.2.40", actor=stranger, reason="x")
    admin = Principal("a" * 12, world.tenant_id, "a", frozenset({Scope.ADMIN}))
    with pytest.raises(ValidationError, match="reason"):
        await service.unsuspend(f"{view_key(reader)}@192.0.2.40", actor=admin, reason="\x1b")
    lifted = await service.unsuspend(f"{view_key(reader)}@192.0.2.40", actor=admin, reason="ok")
    assert lifted.key_id == view_key(reader)
    assert [v.target for v in await service.suspensions(actor=admin)] == []


async def test_every_refusal_path_costs_one_hmac_when_not_backed_off(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = apikeys.secret_matches

    def counting(*args: Any) -> bool:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(keys.apikeys, "secret_matches", counting)
    service = world.service(backoff_after=10**6, suspend_after=3)
    good = await world.key(service, Scope.READ)
    for _ in range(3):  # the (key id, address) pair and the address get suspended
        await refused(service, forged(good), "192.0.2.50")
    await service.unsuspend("192.0.2.50", actor=Operator(), reason="test")
    for header in (forged(good), bearer(good), "Bearer kgw_x", None):
        calls.clear()
        with contextlib.suppress(Unauthenticated):
            await service.authenticate(header, "192.0.2.50")
        assert len(calls) == 1, header
