"""Key administration is authorised in KeyService, whatever the front end (issue 12, 1 and 4).

A key never creates, rotates or revokes a key whose scopes exceed its own; only admin touches
admin; a key it creates or rotates stays inside its IP allow-list and expires no later than it.
The matrix runs every actor scope set against every target scope set for each operation.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kcgateway.errors import Forbidden, ValidationError
from kcgateway.gateway import apikeys
from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.keys import KeyService, Operator, Principal
from kcgateway.secret import Secret
from kcgateway.store.database import Database
from kcgateway.store.repositories import GatewayKeyRepository, TenantRepository
from tests.helpers import leaksuite
from tests.helpers.databases import sqlite_database

NOW = datetime(2026, 6, 1, tzinfo=UTC)
OPERATOR = Operator("test")
SINGLE = [frozenset({s}) for s in Scope]
#: every single scope, and keys:manage together with each other scope
ACTORS = SINGLE + [frozenset({Scope.KEYS_MANAGE, s}) for s in Scope if s is not Scope.KEYS_MANAGE]
#: every single scope, and one pair
TARGETS = [*SINGLE, frozenset({Scope.READ, Scope.TRADE_SPOT})]


def _name(scopes: frozenset[Scope]) -> str:
    return "+".join(sorted(s.value for s in scopes))


def _allowed(actor: frozenset[Scope], target: frozenset[Scope]) -> bool:
    if Scope.ADMIN in actor:
        return True
    return Scope.KEYS_MANAGE in actor and target <= actor


@dataclass
class Keys:
    db: Database
    service: KeyService
    tenant_id: str

    async def make(self, scopes: frozenset[Scope], **kw: object) -> tuple[str, str]:
        full, view = await self.service.create(
            tenant_id=self.tenant_id,
            owner="bot",
            scopes=scopes,
            actor=OPERATOR,
            **kw,  # type: ignore[arg-type]
        )
        leaksuite.register_gateway_key(full.reveal())
        return view.key_id, full.reveal()

    async def actor(
        self,
        scopes: frozenset[Scope],
        *,
        ip_allowlist: tuple[str, ...] = (),
        expires_at: datetime | None = None,
    ) -> Principal:
        key_id, _ = await self.make(scopes, ip_allowlist=ip_allowlist, expires_at=expires_at)
        return Principal(key_id, self.tenant_id, "bot", scopes, ip_allowlist, expires_at)

    async def row_state(self, key_id: str) -> tuple[datetime | None, datetime | None]:
        async with self.db.read() as session:
            row = await GatewayKeyRepository(session).get(key_id)
        assert row is not None
        return row.expires_at, row.revoked_at


@pytest.fixture
async def keys(tmp_path: Path) -> AsyncIterator[Keys]:
    db = await sqlite_database(tmp_path / "keys.db")
    pepper = secrets.token_hex(32)
    leaksuite.register("pepper", pepper)
    try:
        async with db.write() as session:
            tenant_id = await TenantRepository(session).add("t1", now=NOW)
        yield Keys(db, KeyService(db, Secret(pepper), now=lambda: NOW), tenant_id)
    finally:
        await db.aclose()


async def test_create_matrix(keys: Keys) -> None:
    for actor_scopes in ACTORS:
        actor = await keys.actor(actor_scopes)
        for target in TARGETS:
            label = f"{_name(actor_scopes)} creates {_name(target)}"
            if _allowed(actor_scopes, target):
                full, view = await keys.service.create(
                    tenant_id=keys.tenant_id, owner="new", scopes=target, actor=actor
                )
                leaksuite.register_gateway_key(full.reveal())
                assert set(view.scopes) == {s.value for s in target}, label
            else:
                with pytest.raises(Forbidden) as info:
                    await keys.service.create(
                        tenant_id=keys.tenant_id, owner="new", scopes=target, actor=actor
                    )
                assert info.value.field == "scopes", label


async def test_rotate_matrix(keys: Keys) -> None:
    for actor_scopes in ACTORS:
        actor = await keys.actor(actor_scopes)
        for target in TARGETS:
            label = f"{_name(actor_scopes)} rotates {_name(target)}"
            key_id, _ = await keys.make(target)
            if _allowed(actor_scopes, target):
                full, view = await keys.service.rotate(
                    keys.tenant_id, key_id, overlap=timedelta(0), actor=actor
                )
                leaksuite.register_gateway_key(full.reveal())
                assert set(view.scopes) == {s.value for s in target}, label
                assert (await keys.row_state(key_id))[0] == NOW, label  # the old key ends now
            else:
                with pytest.raises(Forbidden) as info:
                    await keys.service.rotate(
                        keys.tenant_id, key_id, overlap=timedelta(0), actor=actor
                    )
                assert info.value.field == "scopes", label
                assert await keys.row_state(key_id) == (None, None), f"{label}: key changed"


async def test_revoke_matrix(keys: Keys) -> None:
    for actor_scopes in ACTORS:
        actor = await keys.actor(actor_scopes)
        for target in TARGETS:
            label = f"{_name(actor_scopes)} revokes {_name(target)}"
            key_id, _ = await keys.make(target)
            if _allowed(actor_scopes, target):
                assert await keys.service.revoke(keys.tenant_id, key_id, actor=actor), label
                assert (await keys.row_state(key_id))[1] == NOW, label
            else:
                with pytest.raises(Forbidden) as info:
                    await keys.service.revoke(keys.tenant_id, key_id, actor=actor)
                assert info.value.field == "scopes", label
                assert await keys.row_state(key_id) == (None, None), f"{label}: key changed"


async def test_only_admin_touches_admin_and_says_so(keys: Keys) -> None:
    manager = await keys.actor(frozenset({Scope.KEYS_MANAGE}))
    admin_id, _ = await keys.make(frozenset({Scope.ADMIN}))
    for attempt in (
        keys.service.rotate(keys.tenant_id, admin_id, overlap=timedelta(0), actor=manager),
        keys.service.revoke(keys.tenant_id, admin_id, actor=manager),
        keys.service.create(
            tenant_id=keys.tenant_id, owner="x", scopes=frozenset({Scope.ADMIN}), actor=manager
        ),
    ):
        with pytest.raises(Forbidden, match=r"only an admin key can .* an admin key"):
            await attempt
    assert await keys.row_state(admin_id) == (None, None)


async def test_another_tenants_key_is_not_found(keys: Keys) -> None:
    async with keys.db.write() as session:
        other = await TenantRepository(session).add("t2", now=NOW)
    admin = Principal("x" * 12, other, "admin", frozenset({Scope.ADMIN}))
    key_id, _ = await keys.make(frozenset({Scope.READ}))
    assert not await keys.service.revoke(keys.tenant_id, key_id, actor=admin)
    assert await keys.row_state(key_id) == (None, None)
    with pytest.raises(Forbidden, match="own tenant"):
        await keys.service.create(
            tenant_id=keys.tenant_id, owner="x", scopes=frozenset({Scope.READ}), actor=admin
        )


async def test_created_keys_stay_inside_the_actors_allowlist(keys: Keys) -> None:
    actor = await keys.actor(
        frozenset({Scope.KEYS_MANAGE, Scope.READ}), ip_allowlist=("10.0.0.0/8", "2001:db8::/32")
    )
    make = keys.service.create
    common = {"tenant_id": keys.tenant_id, "owner": "x", "scopes": frozenset({Scope.READ})}
    for outside in ([], ["0.0.0.0/0"], ["10.0.0.0/7"], ["192.0.2.1"], ["2001:db9::/48"]):
        with pytest.raises(Forbidden, match="outside this key's own IP allow-list") as info:
            await make(**common, ip_allowlist=outside, actor=actor)  # type: ignore[arg-type]
        assert info.value.field == "ipAllowlist"
    for inside in (["10.1.0.0/16"], ["10.2.3.4"], ["10.0.0.0/8", "2001:db8:1::/48"]):
        full, view = await make(**common, ip_allowlist=inside, actor=actor)  # type: ignore[arg-type]
        leaksuite.register_gateway_key(full.reveal())
        assert list(view.ip_allowlist) == inside
    # rotating a key that allows more than the actor is refused too
    wide_id, _ = await keys.make(frozenset({Scope.READ}))
    with pytest.raises(Forbidden) as info:
        await keys.service.rotate(keys.tenant_id, wide_id, overlap=timedelta(0), actor=actor)
    assert info.value.field == "ipAllowlist"
    assert await keys.row_state(wide_id) == (None, None)


async def test_created_and_rotated_keys_expire_no_later_than_the_actor(keys: Keys) -> None:
    ends = NOW + timedelta(days=7)
    actor = await keys.actor(frozenset({Scope.KEYS_MANAGE, Scope.READ}), expires_at=ends)
    common = {"tenant_id": keys.tenant_id, "owner": "x", "scopes": frozenset({Scope.READ})}
    with pytest.raises(Forbidden, match="later than this key's own expiry") as info:
        await keys.service.create(**common, expires_at=ends + timedelta(seconds=1), actor=actor)  # type: ignore[arg-type]
    assert info.value.field == "expiresAt"
    full, view = await keys.service.create(**common, actor=actor)  # type: ignore[arg-type]
    leaksuite.register_gateway_key(full.reveal())
    assert view.expires_at == ends, "without an expiry the new key gets the actor's"
    full, view = await keys.service.create(**common, expires_at=NOW + timedelta(1), actor=actor)  # type: ignore[arg-type]
    leaksuite.register_gateway_key(full.reveal())
    assert view.expires_at == NOW + timedelta(1)
    forever_id, _ = await keys.make(frozenset({Scope.READ}))
    full, view = await keys.service.rotate(
        keys.tenant_id, forever_id, overlap=timedelta(hours=1), actor=actor
    )
    leaksuite.register_gateway_key(full.reveal())
    assert view.expires_at == ends, "a rotated key is capped at the actor's expiry"


async def test_the_operator_is_unrestricted(keys: Keys) -> None:
    admin_id, _ = await keys.make(frozenset({Scope.ADMIN}), ip_allowlist=["0.0.0.0/0"])
    full, view = await keys.service.rotate(
        keys.tenant_id, admin_id, overlap=timedelta(0), actor=OPERATOR
    )
    leaksuite.register_gateway_key(full.reveal())
    assert view.scopes == ("admin",) and view.expires_at is None
    assert await keys.service.revoke(keys.tenant_id, view.key_id, actor=OPERATOR)


@pytest.mark.parametrize(
    ("owner", "problem"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("x" * 201, "longer than 200"),
        ("bot\nforged line", "U\\+000A"),
        ("bot\x1b[31m", "U\\+001B"),
        ("admin\u202egnp", "U\\+202E"),  # a bidi override makes a name read differently
        ("bot\u200b", "U\\+200B"),
        ("a\x00b", "U\\+0000"),
    ],
)
async def test_owner_names_are_printable(keys: Keys, owner: str, problem: str) -> None:
    with pytest.raises(ValidationError, match=problem) as info:
        await keys.service.create(
            tenant_id=keys.tenant_id, owner=owner, scopes=frozenset({Scope.READ}), actor=OPERATOR
        )
    assert info.value.field == "owner"


async def test_printable_owner_names_pass_stripped(keys: Keys) -> None:
    full, view = await keys.service.create(
        tenant_id=keys.tenant_id, owner="  Zoë's bot 1 ✓ ", scopes=frozenset({Scope.READ}),
        actor=OPERATOR,
    )  # fmt: skip
    leaksuite.register_gateway_key(full.reveal())
    assert view.owner == "Zoë's bot 1 ✓"


def test_allowlist_outside_is_pure_subnet_logic() -> None:
    assert apikeys.allowlist_outside(["10.0.0.0/8"], []) == []
    assert apikeys.allowlist_outside([], ["10.0.0.0/8"]) == ["any"]
    assert apikeys.allowlist_outside(["::1", "10.0.0.1"], ["10.0.0.0/8"]) == ["::1/128"]
    assert apikeys.scopes_beyond(frozenset({Scope.ADMIN}), set(Scope)) == []
    assert apikeys.scopes_beyond(frozenset({Scope.KEYS_MANAGE}), {Scope.ADMIN}) == [Scope.ADMIN]
