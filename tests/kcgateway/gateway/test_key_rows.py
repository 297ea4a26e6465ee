"""Key rows kept for authentication (issue 12: the key check under 50 µs without a database read).

A change through the same KeyService holds from the next request; a change made by another
process (the CLI) is seen once the kept row is KEY_ROW_TTL old; a read that raced a change is
not kept; made-up key ids cannot grow the memory without bound.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kcgateway.gateway import apikeys
from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.key_rows import KEY_ROW_TTL, KeyRows
from kcgateway.gateway.keys import Operator
from kcgateway.store.tables import GatewayKey
from tests.kcgateway.gateway.test_keys_lockout import World, bearer, forged, refused, world

__all__ = ["world"]  # the fixture, imported for the tests below

T0 = datetime(2026, 6, 1, tzinfo=UTC)
IP = "192.0.2.1"


def _key_id(key: str) -> str:
    presented = apikeys.parse_key(key)
    assert presented is not None
    return presented.key_id


async def test_a_revocation_through_the_service_holds_from_the_next_request(world: World) -> None:
    service = world.service()
    key = await world.key(service, Scope.READ)
    await service.authenticate(bearer(key), IP)  # the row is now kept
    assert await service.revoke(world.tenant_id, _key_id(key), actor=Operator("t"))
    assert await refused(service, bearer(key), IP) is None


async def test_a_rotation_through_the_service_ends_the_old_key_at_its_new_expiry(
    world: World,
) -> None:
    service = world.service()
    key = await world.key(service, Scope.READ)
    await service.authenticate(bearer(key), IP)
    await service.rotate(world.tenant_id, _key_id(key), overlap=timedelta(0), actor=Operator("t"))
    assert await refused(service, bearer(key), IP) is None


async def test_a_revocation_by_another_process_is_seen_within_the_ttl(world: World) -> None:
    gateway, cli = world.service(), world.service()
    key = await world.key(gateway, Scope.READ)
    await gateway.authenticate(bearer(key), IP)
    assert await cli.revoke(world.tenant_id, _key_id(key), actor=Operator("cli"))
    # the gateway answers from the row it read (no database read) until the row is TTL old
    world.clock.now += KEY_ROW_TTL / 2
    assert (await gateway.authenticate(bearer(key), IP)).key_id == _key_id(key)
    world.clock.now += KEY_ROW_TTL / 2
    assert await refused(gateway, bearer(key), IP) is None


async def test_unknown_and_forged_ids_take_the_same_kept_path(world: World) -> None:
    service = world.service(backoff_after=10**6, suspend_after=10**7)
    key = await world.key(service, Scope.READ)
    for _ in range(3):
        assert await refused(service, forged(key), IP) is None
    # a correct secret after forgeries of its id: accepted from the same kept row
    assert (await service.authenticate(bearer(key), IP)).key_id == _key_id(key)


def _row(key_id: str) -> GatewayKey:
    return GatewayKey(key_id=key_id, tenant_id="t", owner="o", scopes=[], ip_allowlist=[])


def test_a_kept_row_is_answered_until_it_is_ttl_old_and_never_from_the_future() -> None:
    rows = KeyRows(ttl=timedelta(seconds=1))
    row = _row("k")
    rows.put("k", row, T0, rows.generation)
    assert rows.get("k", T0 + timedelta(milliseconds=999)) == (True, row)
    assert rows.get("k", T0 + timedelta(seconds=1)) == (False, None)
    rows.put("k", row, T0, rows.generation)
    assert rows.get("k", T0 - timedelta(milliseconds=1)) == (False, None)  # clock stepped back
    rows.put("gone", None, T0, rows.generation)
    assert rows.get("gone", T0) == (True, None)  # an unknown id is kept too


def test_a_read_begun_before_a_change_is_not_kept() -> None:
    rows = KeyRows()
    began = rows.generation
    rows.forget("k")  # a revocation committed while the read was in flight
    rows.put("k", _row("k"), T0, began)
    assert rows.get("k", T0) == (False, None)


def test_made_up_ids_cannot_grow_the_kept_rows_past_their_bound() -> None:
    rows = KeyRows(max_rows=3)
    for n in range(10):
        rows.put(f"k{n}", None, T0, rows.generation)
    assert [rows.get(f"k{n}", T0)[0] for n in range(10)] == [False] * 7 + [True] * 3


def test_a_touch_updates_the_kept_row() -> None:
    rows = KeyRows()
    row = _row("k")
    rows.put("k", row, T0, rows.generation)
    rows.touched("k", T0 + timedelta(seconds=5))
    rows.touched("absent", T0)  # nothing kept: nothing to do
    assert rows.get("k", T0)[1] is row and row.last_used_at == T0 + timedelta(seconds=5)
