"""Gateway-wide broker settings: sealed by the vault, and every trading call carries them.

Checked against the simulator, which verifies the partner signature with its own code
(kucoin_sim/auth.py): a wrong broker key is refused (400201, because VERIFY is true), the right
one is accepted and the order is attributed to the partner (``tags = partner:<id>``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from kcgateway.errors import ExchangeError
from kcgateway.gateway.broker import BrokerService, InvalidBrokerSettings
from kcgateway.secret import Secret
from kcgateway.store.broker_store import SqlBrokerStore
from kcgateway.store.ledger import AuditRepository
from kcgateway.store.records import CredentialRecord
from kcgateway.store.tables import CredentialRow
from kcgateway.vault.broker import BrokerVault, CachedBroker
from kcgateway.vault.kek import KeyRing, LocalKek
from kcgateway.vault.rotation import rotate_kek
from kcgateway.vault.signer import SealedRecordCache, Signer
from tests.helpers.gateway import Stack, Tenant, auth, gateway_stack, order_body

PARTNER = "KCGW_TEST_ND"
REQUEST = {"method": "POST", "path": "/api/v1/hf/orders", "body": b"{}", "timestamp_ms": 17}


def _partner_sign(key: str, ts: int, api_key: str) -> str:
    mac = hmac.new(key.encode(), f"{ts}{PARTNER}{api_key}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def _service(stack: Stack) -> BrokerService:
    assert stack.ring is not None
    store = SqlBrokerStore(stack.services.db)
    return BrokerService(stack.services.db, BrokerVault(store, stack.ring), store)


async def _credential_of(stack: Stack, tenant: Tenant) -> str:
    query = select(CredentialRow.id).where(CredentialRow.account_id == tenant.account_id)
    async with stack.services.db.read() as session:
        found = await session.scalar(query)
    assert found is not None
    return found


async def _register_partner(stack: Stack) -> str:
    made = await stack.sim_admin("POST", "/_sim/partners", {"partner": PARTNER, "name": "kcgw"})
    key: str = made["brokerKey"]
    return key


async def test_without_settings_no_partner_header(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        headers = await stack.services.venues._signer.sign(
            await _credential_of(stack, tenant), **REQUEST
        )
        assert "KC-API-SIGN" in headers
        assert not any(h.startswith("KC-API-PARTNER") for h in headers)
        assert await _service(stack).get() is None


async def test_the_right_broker_key_is_accepted_and_the_order_attributed(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        broker_key = await _register_partner(stack)
        view = await _service(stack).set(
            partner=PARTNER, name="kcgw", broker_key=Secret(broker_key), actor="test"
        )
        assert (view.partner, view.name) == (PARTNER, "kcgw")
        tenant = await stack.add_tenant("t1")  # connected AFTER the settings: covered too
        headers = await stack.services.venues._signer.sign(
            await _credential_of(stack, tenant), **REQUEST
        )
        assert headers["KC-API-PARTNER"] == PARTNER
        assert headers["KC-API-PARTNER-VERIFY"] == "true"
        assert headers["KC-BROKER-NAME"] == "kcgw"
        api_key = tenant.sim_account["apiKey"]
        assert headers["KC-API-PARTNER-SIGN"] == _partner_sign(broker_key, 17, api_key)

        placed = await stack.http.post(
            "/v1/orders", json=order_body("main"), headers=auth(tenant.admin_key)
        )
        assert placed.status_code == 201, placed.text
        order = stack.sim.state.exchange.registry.by_client_oid(
            tenant.sim_account["uid"], placed.json()["clientOid"]
        )
        assert order is not None and order.tags == f"partner:{PARTNER}"

        # the key is sealed: not in the database file, not in the audit record
        raw = b"".join(p.read_bytes() for p in tmp_path.glob("kcgateway.db*"))
        assert raw and broker_key.encode() not in raw
        async with stack.services.db.read() as session:
            [audit] = [r for r in await AuditRepository(session).all() if r.action == "broker.set"]
        assert audit.detail == {"partner": PARTNER, "name": "kcgw"}


async def test_a_wrong_broker_key_is_refused_by_the_exchange(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        await _register_partner(stack)
        await _service(stack).set(
            partner=PARTNER, name="kcgw", broker_key=Secret(secrets.token_hex(16)), actor="test"
        )
        tenant = await stack.add_tenant("t1")
        body = order_body("main", clientOid="wrong-broker-1")
        placed = await stack.http.post("/v1/orders", json=body, headers=auth(tenant.admin_key))
        # the risk engine cannot read the balances (every signed call is refused): the answer
        # is the exchange's refusal of the key, with its code, and nothing is stored or sent
        assert placed.status_code == 502, placed.text
        assert placed.json()["error"] == "exchange_auth_failed", placed.text
        assert placed.json()["exchangeCode"] == "400201", placed.text
        listed = await stack.http.get("/v1/orders", headers=auth(tenant.admin_key))
        assert listed.json() == []
        uid = tenant.sim_account["uid"]
        registry = stack.sim.state.exchange.registry
        assert registry.by_client_oid(uid, "wrong-broker-1") is None
        venue = await stack.services.venues.for_account(tenant.account_id)
        with pytest.raises(ExchangeError) as refused:  # every signed call, not only orders
            await venue.balances()
        assert refused.value.code == "400201"


async def test_clear_stops_the_headers_and_bad_settings_are_refused(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        service = _service(stack)
        with pytest.raises(InvalidBrokerSettings, match="partner id"):
            await service.set(partner=" ", name="n", broker_key=Secret("k"), actor="t")
        with pytest.raises(InvalidBrokerSettings, match="KUCOIN_BROKER_KEY"):
            await service.set(partner="P", name="n", broker_key=Secret(""), actor="t")
        await service.set(partner="P", name="n", broker_key=Secret("k" * 16), actor="t")
        assert await service.clear(actor="t") is True
        assert await service.clear(actor="t") is False
        assert await service.get() is None


async def test_kek_rotation_rewraps_the_broker_key(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        assert stack.ring is not None
        old = stack.ring.active
        store = SqlBrokerStore(stack.services.db)
        await _service(stack).set(partner=PARTNER, name="n", broker_key=Secret("b" * 32), actor="t")
        tenant = await stack.add_tenant("t1")
        credential = await _credential_of(stack, tenant)
        new = LocalKek(os.urandom(32))
        result = await rotate_kek(store, KeyRing(new, old), new, now=lambda: datetime.now(UTC))
        assert (result.rewrapped, result.total) == (1, 1)
        assert await store.count_by_kek() == {new.kek_id: 1}
        # the account credential still on the old KEK: sign with a ring holding both
        both = KeyRing(new, old)
        signer = Signer(SealedRecordCache(_CredentialDb(stack)), both, broker=store)
        headers = await signer.sign(credential, **REQUEST)
        assert headers["KC-API-PARTNER-SIGN"] == _partner_sign(
            "b" * 32, 17, tenant.sim_account["apiKey"]
        )
        # without the new KEK the broker record no longer opens: nothing is signed half-way
        with pytest.raises(Exception, match="KEK"):
            await Signer(_CredentialDb(stack), KeyRing(old), broker=store).sign(
                credential, **REQUEST
            )


class _CredentialDb:
    def __init__(self, stack: Stack) -> None:
        from kcgateway.store.credential_store import SqlCredentialStore

        self._store = SqlCredentialStore(stack.services.db)

    async def get(self, credential_id: str) -> CredentialRecord:
        return await self._store.get(credential_id)


async def test_cached_broker_rereads_after_its_ttl() -> None:
    class Source:
        reads = 0

        async def current(self) -> None:
            Source.reads += 1

    clock = [0.0]
    cached = CachedBroker(Source(), ttl_s=30, clock=lambda: clock[0])
    await cached.current()
    clock[0] = 29.9
    await cached.current()
    assert Source.reads == 1
    clock[0] = 30.0
    await cached.current()
    assert Source.reads == 2
    cached.invalidate()
    await cached.current()
    assert Source.reads == 3


async def test_the_store_reads_by_id_and_refuses_a_record_without_broker_info(
    tmp_path: Path,
) -> None:
    async with gateway_stack(tmp_path) as stack:
        store = SqlBrokerStore(stack.services.db)
        with pytest.raises(LookupError):
            await store.get("nope")
        view = await _service(stack).set(
            partner="P", name="n", broker_key=Secret("k" * 16), actor="t"
        )
        current = await store.current()
        assert current is not None and current.broker is not None
        assert (await store.get(current.credential_id)).broker == current.broker
        assert view.partner == "P"
        with pytest.raises(ValueError, match="broker info"):
            await store.add(replace(current, broker=None), now=datetime.now(UTC))
