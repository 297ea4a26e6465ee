"""Removing an account: refused while orders are live; shreds the credential, keeps history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from kcgateway.gateway.accounts import (
    AccountNameTaken,
    AccountOnboarding,
    ConnectRequest,
    NoSuchAccount,
)
from kcgateway.gateway.audit import verify_chain
from kcgateway.gateway.venue import AccountNotConnected
from kcgateway.secret import Secret
from kcgateway.store.credential_store import SqlCredentialStore
from kcgateway.store.ledger import AuditRepository
from kcgateway.store.tables import CredentialRow, OrderIntent
from kcgateway.vault.audit_keys import load_audit_keys
from kcgateway.vault.credentials import CredentialVault
from kcgateway.vault.signer import Signer
from tests.helpers.gateway import Stack, auth, gateway_stack, order_body

REQUEST = {"method": "GET", "path": "/api/v1/accounts", "body": b"", "timestamp_ms": 1}


async def _credential_ids(stack: Stack, account_id: str) -> list[str]:
    query = select(CredentialRow.id).where(CredentialRow.account_id == account_id)
    async with stack.services.db.read() as session:
        return list((await session.scalars(query)).all())


async def _audit(stack: Stack, action: str) -> list[dict[str, object]]:
    async with stack.services.db.read() as session:
        rows = await AuditRepository(session).all()
    return [{"subject": r.subject, **r.detail} for r in rows if r.action == action]


async def test_refused_while_an_order_is_live_then_forced_and_shredded(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        placed = await stack.http.post(
            "/v1/orders", json=order_body("main"), headers=auth(tenant.admin_key)
        )
        assert placed.status_code == 201, placed.text
        [credential_id] = await _credential_ids(stack, tenant.account_id)
        live_signer = stack.services.venues._signer  # the running gateway's (cached) signer
        assert stack.ring is not None
        fresh_signer = Signer(SqlCredentialStore(stack.services.db), stack.ring)
        assert "KC-API-SIGN" in await live_signer.sign(credential_id, **REQUEST)
        assert "KC-API-SIGN" in await fresh_signer.sign(credential_id, **REQUEST)

        url = f"/v1/accounts/{tenant.account_id}"
        busy = await stack.http.delete(url, headers=auth(tenant.admin_key))
        assert busy.status_code == 409, busy.text
        assert busy.json()["error"] == "account_busy" and busy.json()["liveOrders"] == 1
        assert "force" in busy.json()["message"]
        assert await _credential_ids(stack, tenant.account_id) == [credential_id]
        assert await _audit(stack, "account.removed") == []

        forced = await stack.http.delete(url + "?force=true", headers=auth(tenant.admin_key))
        assert forced.status_code == 200, forced.text
        assert forced.json() == {
            "id": tenant.account_id, "name": "main", "credentialsDeleted": 1, "liveOrders": 1,
        }  # fmt: skip

        # crypto-shredded: the sealed row is gone, no signer (cached or not) can sign with it
        assert await _credential_ids(stack, tenant.account_id) == []
        with pytest.raises(LookupError):
            await live_signer.sign(credential_id, **REQUEST)
        with pytest.raises(LookupError):
            await fresh_signer.sign(credential_id, **REQUEST)
        with pytest.raises(AccountNotConnected):
            await stack.services.venues.for_account(tenant.account_id)

        # the history stays: the intent, its audit records, and the removal is audited
        orders = (await stack.http.get("/v1/orders", headers=auth(tenant.admin_key))).json()
        assert [o["id"] for o in orders] == [placed.json()["id"]]
        async with stack.services.db.read() as session:
            intents = await session.scalar(select(func.count()).select_from(OrderIntent))
        assert intents == 1
        [removed] = await _audit(stack, "account.removed")
        assert removed["subject"] == tenant.account_id
        assert removed["forced"] is True and removed["credential_ids"] == [credential_id]
        keys = load_audit_keys(tmp_path / "audit.keys")  # the dev data dir's audit key file
        report = await verify_chain(stack.services.db, keys=keys)
        assert report.ok and report.unkeyed == 0, report
        secret = tenant.sim_account["secret"]
        assert secret not in json.dumps(await _audit(stack, "account.removed"))

        listed = (await stack.http.get("/v1/accounts", headers=auth(tenant.admin_key))).json()
        assert listed == []
        again = await stack.http.delete(url + "?force=true", headers=auth(tenant.admin_key))
        assert again.status_code == 404
        # the reconciler skips the orphaned intent instead of failing the whole pass
        assert await stack.services.orders.reconcile() == 1
        order = await stack.http.post(
            "/v1/orders", json=order_body("main"), headers=auth(tenant.admin_key)
        )
        assert order.status_code == 404 and order.json()["error"] == "not_found"
        async with stack.services.db.read() as session:  # refused before any intent exists
            assert await session.scalar(select(func.count()).select_from(OrderIntent)) == 1
        removed_history = await stack.services.orders.list(tenant.id, account="main")
        assert [o.id for o in removed_history] == [placed.json()["id"]]


async def test_another_tenants_account_is_not_found(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        one = await stack.add_tenant("t1")
        two = await stack.add_tenant("t2")
        resp = await stack.http.delete(
            f"/v1/accounts/{one.account_id}?force=true", headers=auth(two.admin_key)
        )
        assert resp.status_code == 404 and resp.json()["error"] == "not_found"
        assert len(await _credential_ids(stack, one.account_id)) == 1
        with pytest.raises(NoSuchAccount):
            await stack.services.accounts.remove(two.id, "main-of-nobody", "test")
        listed = (await stack.http.get("/v1/accounts", headers=auth(one.admin_key))).json()
        assert [a["id"] for a in listed] == [one.account_id]


async def test_removal_by_name_keeps_the_name_with_its_history(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        removed = await stack.services.accounts.remove(tenant.id, "main", "test")
        assert (removed.name, removed.credentials_deleted, removed.live_orders) == ("main", 1, 0)
        key = tenant.sim_account
        again = ConnectRequest(
            "main", key["apiKey"], Secret(key["secret"]), Secret(key["passphrase"])
        )
        with pytest.raises(AccountNameTaken, match="was removed"):
            await stack.services.accounts.connect(tenant.id, "test", again)
        renamed = ConnectRequest(
            "main-2", key["apiKey"], Secret(key["secret"]), Secret(key["passphrase"])
        )
        view = await stack.services.accounts.connect(tenant.id, "test", renamed)
        assert [a.id for a in await stack.services.accounts.list(tenant.id)] == [view.id]


async def test_a_removal_by_another_process_is_swept_from_the_running_gateway(
    tmp_path: Path,
) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        [credential_id] = await _credential_ids(stack, tenant.account_id)
        live_signer = stack.services.venues._signer
        assert "KC-API-SIGN" in await live_signer.sign(credential_id, **REQUEST)
        await stack.services.venues.for_account(tenant.account_id)  # a cached client
        assert stack.ring is not None
        cli = AccountOnboarding(  # what `kcgateway accounts remove` builds in its own process
            stack.services.db,
            CredentialVault(SqlCredentialStore(stack.services.db), stack.ring),
            stack.services.venues._factory,  # type: ignore[arg-type]
            require_ip_whitelist=False,
        )
        await cli.remove(tenant.id, "main", "cli")
        # this process never heard of it: its cache still holds the sealed record...
        assert "KC-API-SIGN" in await live_signer.sign(credential_id, **REQUEST)
        # ...until the sweep the reconciler runs on every pass
        assert await stack.services.accounts.sweep_removed() == 1
        with pytest.raises(LookupError):
            await live_signer.sign(credential_id, **REQUEST)
        with pytest.raises(AccountNotConnected):
            await stack.services.venues.for_account(tenant.account_id)
        assert await stack.services.accounts.sweep_removed() == 0
