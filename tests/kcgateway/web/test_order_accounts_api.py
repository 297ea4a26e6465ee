"""Finding 9 (order path): a clientOid is an account's; an unreadable credential is named.

- A clientOid is unique per account, not per tenant: cancelling by one that two accounts use
  must not pick either at random (the old main cancelled whichever the database found first).
- An account whose stored credential cannot be decrypted answers an error naming the account
  (the old main: a bare 500 on cancel, a 202 ``unknown`` on placement), and its intents are
  flagged for the operator with an audit record instead of staying ``unknown`` silently.
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select, update

from kcgateway.gateway.accounts import ConnectRequest
from kcgateway.secret import Secret
from kcgateway.store.ledger import NewIntent, OrderIntentRepository
from kcgateway.store.tables import AuditRecord, CredentialRow
from kcgateway.store.types import OrderState
from tests.helpers import leaksuite
from tests.helpers.gateway import Stack, Tenant, auth, gateway_stack, order_body


async def _second_account(stack: Stack, tenant: Tenant, name: str) -> str:
    account = stack.sim.create_account(
        {"hf": True, "balances": {"USDT": "1000000", "BTC": "50"},
         "secret": secrets.token_hex(16), "passphrase": secrets.token_hex(8)}
    )  # fmt: skip
    leaksuite.register_exchange_key(account["apiKey"], account["secret"], account["passphrase"])
    view = await stack.services.accounts.connect(
        tenant.id,
        "test",
        ConnectRequest(
            name, account["apiKey"], Secret(account["secret"]), Secret(account["passphrase"])
        ),
    )
    return view.id


async def test_cancel_by_a_client_oid_two_accounts_share_needs_the_account(
    tmp_path: Path,
) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        second = await _second_account(stack, tenant, "second")
        h = auth(tenant.admin_key)
        for account in ("main", "second"):
            body = order_body(account, clientOid="shared-oid-1")
            resp = await stack.http.post("/v1/orders", json=body, headers=h)
            assert resp.status_code == 201, resp.text
        url = "/v1/orders/by-client-oid/shared-oid-1"
        resp = await stack.http.delete(url, headers=h)
        assert resp.status_code == 409, resp.text
        error = resp.json()
        assert error["error"] == "client_oid_ambiguous"
        assert error["accounts"] == ["main", "second"] and "account" in error["message"]
        listed = (await stack.http.get("/v1/orders", headers=h)).json()
        assert {o["state"] for o in listed} <= {"acked", "open"}, "nothing was cancelled"
        resp = await stack.http.delete(url, params={"account": "second"}, headers=h)
        assert resp.status_code == 200, resp.text
        assert resp.json()["account"] == second and resp.json()["state"] == "cancelled"
        listed = (await stack.http.get("/v1/orders", headers=h)).json()
        states = {o["account"]: o["state"] for o in listed}
        assert states[tenant.account_id] in ("acked", "open"), "the other account's order stays"
        resp = await stack.http.delete(url, params={"account": "nope"}, headers=h)
        assert resp.status_code == 404, resp.text


async def _break_credential(stack: Stack, account_id: str) -> None:
    """As a wrong or missing KEK would: the sealed record no longer opens."""
    async with stack.services.db.write() as session:
        await session.execute(
            update(CredentialRow)
            .where(CredentialRow.account_id == account_id)
            .values(envelope_version=999)
        )


async def test_an_unreadable_credential_names_the_account_and_flags_its_orders(
    tmp_path: Path,
) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        h = auth(tenant.admin_key)
        await _break_credential(stack, tenant.account_id)
        # placing: nothing can be signed (the risk engine cannot even read the balances), so
        # nothing is stored or sent; the answer says whose it is, not only "balances missing"
        resp = await stack.http.post("/v1/orders", json=order_body("main"), headers=h)
        assert resp.status_code == 503, resp.text
        error = resp.json()
        assert error["error"] == "account_unusable" and error["accountId"] == tenant.account_id
        assert tenant.account_id in error["message"] and "decrypt" in error["message"]
        assert (await stack.http.get("/v1/orders", headers=h)).json() == [], "refused up front"
        # intents from before the credential broke: the reconciler flags them, once
        now = stack.services.orders.intents._now()
        async with stack.services.db.write() as session:
            repo = OrderIntentRepository(session)
            unknown_id = await repo.add(
                NewIntent(tenant.account_id, "was-unknown-1", "BTC-USDT", "buy", "limit",
                          Decimal(60000), Decimal("0.001"), state=OrderState.UNKNOWN),
                now=now,
            )  # fmt: skip
            open_id = await repo.add(
                NewIntent(tenant.account_id, "was-open-1", "BTC-USDT", "buy", "limit",
                          Decimal(60000), Decimal("0.001"), state=OrderState.OPEN),
                now=now,
            )  # fmt: skip
        for _ in range(2):
            await stack.services.orders.reconcile()
        got = (await stack.http.get(f"/v1/orders/{unknown_id}", headers=h)).json()
        assert got["state"] == "unknown" and tenant.account_id in got["attention"], got
        async with stack.services.db.read() as session:
            flags = (
                await session.scalars(
                    select(AuditRecord).where(AuditRecord.action == "order.needs_operator")
                )
            ).all()
        assert [f.subject for f in flags] == [unknown_id], "one record, not one per pass"
        # cancelling an open order of that account: a clear error, not a bare 500
        resp = await stack.http.delete(f"/v1/orders/{open_id}", headers=h)
        assert resp.status_code == 503, resp.text
        assert resp.json()["error"] == "account_unusable"
        assert resp.json()["accountId"] == tenant.account_id
