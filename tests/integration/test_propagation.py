"""Two gateway instances on one PostgreSQL database: what one changes, the other obeys.

Issue 19 (Propagation; instances are stateless otherwise). Instance A is a
:func:`gateway_stack`, B a :func:`peer` on the same database and simulator with its own
caches. Both buses re-read only hourly here, and B keeps key rows an hour, so what arrives
arrives through the notifications (the safety-net test turns them off instead). Delays are
printed, never asserted (``bench/bench_propagation.py`` measures them against the 1 s goal);
a change that does not arrive within :data:`WITHIN_S` fails.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta

import pytest
from sqlalchemy import text

from kcgateway.errors import AccountNotConnected
from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.broker import BrokerService
from kcgateway.gateway.cluster.bus import PgBus
from kcgateway.gateway.cluster.propagation import broker_settings_changed
from kcgateway.gateway.event_feed import filter_for
from kcgateway.gateway.failures import FailureTracker
from kcgateway.gateway.keys import Operator
from kcgateway.risk import TradingStates
from kcgateway.secret import Secret
from kcgateway.store.broker_store import SqlBrokerStore
from kcgateway.vault.broker import BrokerVault
from tests.helpers import leaksuite
from tests.helpers.cluster import HOUR, WITHIN_S, peer, until
from tests.helpers.gateway import Stack, Tenant, auth, order_body, warm_risk

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("fresh_db_url", ["postgresql"], indirect=True),
]
FORGER = "10.9.8.7"
REQUEST = {"method": "GET", "path": "/api/v1/accounts", "body": b"", "timestamp_ms": 1}


async def _order(stack: Stack, key: str, price: int) -> int:
    body = order_body("main", price=str(price))
    return (await stack.http.post("/v1/orders", json=body, headers=auth(key))).status_code


async def test_a_halt_and_a_resume_on_one_instance_hold_on_the_other(
    instances: tuple[Stack, Stack, Tenant],
) -> None:
    a, b, tenant = instances
    await warm_risk(b, tenant.id, tenant.account_id)
    assert await _order(b, tenant.admin_key, 50_001) == 201
    assert b.services.risk is not None
    body = {"level": "account", "target": "main", "reason": "leaked key"}
    resp = await a.http.post("/v1/risk/halt", json=body, headers=auth(tenant.admin_key))
    assert resp.status_code == 200, resp.text

    async def halted() -> bool:
        states = b.services.risk.states_for(tenant.id, tenant.account_id, "")  # type: ignore[union-attr]
        return states != TradingStates()

    print(f"halt reached B in {await until(halted) * 1000:.1f} ms")
    metrics = (await b.http.get("/metrics")).text
    assert (
        "kcgw_change_bus_listening 1.0" in metrics and "kcgw_change_bus_received 0.0" not in metrics
    )
    resp = await b.http.post(
        "/v1/orders", json=order_body("main", price="50002"), headers=auth(tenant.admin_key)
    )
    assert resp.status_code == 422 and "risk.halted" in resp.text, resp.text
    resp = await a.http.post("/v1/risk/resume", json=body, headers=auth(tenant.admin_key))
    assert resp.status_code == 200, resp.text

    async def resumed() -> bool:
        return not await halted()

    print(f"resume reached B in {await until(resumed) * 1000:.1f} ms")
    assert await _order(b, tenant.admin_key, 50_003) == 201


async def test_a_key_revoked_or_rotated_on_one_instance_is_refused_on_the_other(
    instances: tuple[Stack, Stack, Tenant],
) -> None:
    a, b, tenant = instances
    keys = a.services.keys
    scopes = frozenset({Scope.READ})
    revoked, view = await keys.create(
        tenant_id=tenant.id, owner="bot", scopes=scopes, actor=Operator("test")
    )
    rotated, old = await keys.create(
        tenant_id=tenant.id, owner="bot", scopes=scopes, actor=Operator("test")
    )
    for key in (revoked, rotated):  # B reads and keeps both rows (for an hour)
        assert (await b.http.get("/v1/orders", headers=auth(key.reveal()))).status_code == 200

    async def refused(key: str) -> bool:
        return (await b.http.get("/v1/orders", headers=auth(key))).status_code == 401

    assert await keys.revoke(tenant.id, view.key_id, actor=Operator("test"))
    delay = await until(lambda: refused(revoked.reveal()))
    print(f"revocation reached B in {delay * 1000:.1f} ms")
    successor, _ = await keys.rotate(
        tenant.id, old.key_id, overlap=timedelta(0), actor=Operator("test")
    )
    delay = await until(lambda: refused(rotated.reveal()))
    print(f"rotation reached B in {delay * 1000:.1f} ms")
    assert (await b.http.get("/v1/orders", headers=auth(successor.reveal()))).status_code == 200


async def test_a_source_suspended_on_one_instance_is_refused_on_the_other(
    instances: tuple[Stack, Stack, Tenant],
) -> None:
    """Failures from one address counted on A suspend it on B too (no fresh start there)."""
    a, b, tenant = instances
    a.services.keys.tracker = FailureTracker(backoff_after=100, suspend_after=3)
    good = auth(tenant.admin_key)
    assert (await b.http.get("/v1/orders", headers=good)).status_code == 200  # B loaded
    forger, on_b = a.client(ip=FORGER), b.client(ip=FORGER)
    assert (await on_b.get("/v1/orders", headers=good)).status_code == 200
    for _ in range(3):
        assert (await forger.get("/v1/orders", headers=auth("kgw_forged"))).status_code == 401

    async def refused() -> bool:
        return (await on_b.get("/v1/orders", headers=good)).status_code == 401

    print(f"suspension reached B in {await until(refused) * 1000:.1f} ms")
    await a.services.keys.unsuspend(FORGER, actor=Operator("t"), reason="drill over")

    async def lifted() -> bool:
        return (await on_b.get("/v1/orders", headers=good)).status_code == 200

    print(f"lift reached B in {await until(lifted) * 1000:.1f} ms")
    await forger.aclose()
    await on_b.aclose()


async def test_an_account_removed_on_one_instance_is_forgotten_by_the_other(
    instances: tuple[Stack, Stack, Tenant],
) -> None:
    a, b, tenant = instances
    [credential_id] = await _credentials(b, tenant.account_id)
    signer = b.services.venues._signer
    await b.services.venues.for_account(tenant.account_id)  # B holds a client and the record
    assert "KC-API-SIGN" in await signer.sign(credential_id, **REQUEST)  # type: ignore[arg-type]
    await a.services.accounts.remove(tenant.id, "main", "test")

    async def forgotten() -> bool:
        try:
            await b.services.venues.for_account(tenant.account_id)
        except AccountNotConnected:
            return True
        return False

    print(f"account removal reached B in {await until(forgotten) * 1000:.1f} ms")
    with pytest.raises(LookupError):  # the sealed record is gone from B's signer too
        await signer.sign(credential_id, **REQUEST)  # type: ignore[arg-type]
    assert await _order(b, tenant.admin_key, 50_004) == 404


async def _credentials(stack: Stack, account_id: str) -> list[str]:
    async with stack.services.db.read() as session:
        rows = await session.execute(
            text("SELECT id FROM credentials WHERE account_id = :a"), {"a": account_id}
        )
        return [str(r[0]) for r in rows]


async def test_a_follower_on_one_instance_is_woken_by_events_committed_on_the_other(
    instances: tuple[Stack, Stack, Tenant],
) -> None:
    a, b, tenant = instances
    feed = b.services.event_feed
    assert feed is not None
    feed.poll_s = HOUR  # only a wake-up delivers
    which = filter_for(tenant.id, {Scope.ADMIN})
    seen: list[str] = []

    async def follow() -> None:
        async for event in feed.follow(which, after=await feed.last_id()):
            if event is not None:
                seen.append(event.kind)
                return

    follower = asyncio.create_task(follow())
    await until(lambda: _followed(b))
    await asyncio.sleep(0.2)  # past its first (empty) read: now it waits
    await warm_risk(a, tenant.id, tenant.account_id)
    assert await _order(a, tenant.admin_key, 50_005) == 201
    await asyncio.wait_for(follower, WITHIN_S)
    assert seen and seen[0] == "order.state"


async def _followed(stack: Stack) -> bool:
    assert stack.services.event_feed is not None
    return stack.services.event_feed.hub.followers == 1


async def test_broker_settings_set_on_one_instance_sign_the_next_call_on_the_other(
    instances: tuple[Stack, Stack, Tenant],
) -> None:
    a, b, tenant = instances
    [credential_id] = await _credentials(b, tenant.account_id)
    signer = b.services.venues._signer
    headers = await signer.sign(credential_id, **REQUEST)  # type: ignore[arg-type]
    assert "KC-API-PARTNER" not in headers  # B now keeps "no broker" (for 30 s, by itself)
    assert a.ring is not None and a.services.bus is not None
    store = SqlBrokerStore(a.services.db)
    service = BrokerService(
        a.services.db, BrokerVault(store, a.ring), store,
        on_change=broker_settings_changed(a.services.bus),
    )  # fmt: skip
    broker_key = secrets.token_hex(16)
    leaksuite.register("broker key", broker_key)
    await service.set(partner="KCGW_ND", name="kcgw", broker_key=Secret(broker_key), actor="cli")

    async def partnered() -> bool:
        signed = await signer.sign(credential_id, **REQUEST)  # type: ignore[arg-type]
        return signed.get("KC-API-PARTNER") == "KCGW_ND"

    # B's own re-read of the broker record comes after 30 s: what arrives before came by message
    print(f"broker settings reached B in {await until(partnered, 20) * 1000:.1f} ms")


async def test_without_notifications_the_periodic_reread_still_delivers(
    instances: tuple[Stack, Stack, Tenant], fresh_db_url: str
) -> None:
    """The safety net: C hears nothing (no listener) and re-reads every 0.3 s."""
    a, _, tenant = instances
    async with peer(a, fresh_db_url, listen=False, resync_s=0.3) as c:
        c.services.keys.row_ttl = timedelta(hours=1)
        assert c.services.risk is not None
        key, view = await a.services.keys.create(
            tenant_id=tenant.id, owner="bot", scopes=frozenset({Scope.READ}), actor=Operator("t")
        )
        assert (await c.http.get("/v1/orders", headers=auth(key.reveal()))).status_code == 200
        await c.services.venues.for_account(tenant.account_id)
        assert a.services.risk is not None
        await a.services.risk.halt("account", tenant.account_id, "drill", Operator("t"))
        await a.services.keys.revoke(tenant.id, view.key_id, actor=Operator("t"))
        await a.services.accounts.remove(tenant.id, "main", "test")

        async def arrived() -> bool:
            states = c.services.risk.states_for(tenant.id, tenant.account_id, "")  # type: ignore[union-attr]
            refused = await c.http.get("/v1/orders", headers=auth(key.reveal()))
            try:
                await c.services.venues.for_account(tenant.account_id)
            except AccountNotConnected:
                return states != TradingStates() and refused.status_code == 401
            return False

        print(f"re-read delivered halt, revocation, removal in {await until(arrived):.2f} s")
        assert c.services.bus is not None and c.services.bus.received == 0


async def test_a_cut_listener_reconnects_and_catches_up_on_what_it_missed(
    instances: tuple[Stack, Stack, Tenant],
) -> None:
    a, b, tenant = instances
    bus = b.services.bus
    assert isinstance(bus, PgBus) and a.services.risk is not None
    async with a.services.db.engine.begin() as conn:
        await conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": bus.listener_pid})
    await a.services.risk.halt("tenant", tenant.id, "drill", Operator("t"))  # maybe unheard

    async def halted() -> bool:
        states = b.services.risk.states_for(tenant.id, tenant.account_id, "")  # type: ignore[union-attr]
        return states != TradingStates()

    print(f"halt reached B across a reconnect in {await until(halted) * 1000:.1f} ms")
    await until(lambda: _listening(bus))
    assert bus.connects == 2
    await a.services.risk.resume("tenant", tenant.id, "drill over", Operator("t"))
    await until(lambda: _resumed(b, tenant))


async def _listening(bus: PgBus) -> bool:
    return bus.listening


async def _resumed(stack: Stack, tenant: Tenant) -> bool:
    assert stack.services.risk is not None
    return stack.services.risk.states_for(tenant.id, tenant.account_id, "") == TradingStates()
