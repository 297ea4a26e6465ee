"""Orders through the HTTP API against the simulator: placement, idempotency, tenancy, cancel."""

from __future__ import annotations

from pathlib import Path

import pytest

from kcgateway.gateway.apikeys import Scope
from tests.helpers.gateway import Stack, auth, gateway_stack, order_body, warm_risk


async def _accepted(stack: Stack, client_oid: str) -> int:
    data = await stack.sim_admin("GET", f"/_sim/orders?clientOid={client_oid}")
    return int(data["accepted"])


async def test_place_get_list_cancel(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        key = await stack.key(tenant, Scope.TRADE_SPOT, Scope.READ)
        resp = await stack.http.post("/v1/orders", json=order_body("main"), headers=auth(key))
        assert resp.status_code == 201, resp.text
        placed = resp.json()
        assert placed["state"] == "acked"
        assert placed["price"] == "60000"
        assert await _accepted(stack, placed["clientOid"]) == 1
        got = (await stack.http.get(f"/v1/orders/{placed['id']}", headers=auth(key))).json()
        assert got["state"] == "open"
        listed = (await stack.http.get("/v1/orders", headers=auth(key))).json()
        assert [o["id"] for o in listed] == [placed["id"]]
        resp = await stack.http.delete(f"/v1/orders/{placed['id']}", headers=auth(key))
        assert resp.status_code == 200, resp.text
        assert resp.json()["state"] == "cancelled"
        resp = await stack.http.delete(f"/v1/orders/{placed['id']}", headers=auth(key))
        assert resp.status_code == 409
        assert resp.json()["error"] == "not_cancellable"


async def test_classic_account_and_cancel_by_client_oid(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1", hf=False)
        body = order_body("main", clientOid="mine-1")
        resp = await stack.http.post("/v1/orders", json=body, headers=auth(tenant.admin_key))
        assert resp.status_code == 201, resp.text
        assert resp.json()["clientOid"] == "mine-1"
        orders = await stack.sim_admin("GET", "/_sim/orders?clientOid=mine-1")
        assert orders["accepted"] == 1
        resp = await stack.http.delete(
            "/v1/orders/by-client-oid/mine-1", headers=auth(tenant.admin_key)
        )
        assert resp.json()["state"] == "cancelled"
        # the same clientOid again is refused by the gateway itself, nothing is sent
        resp = await stack.http.post("/v1/orders", json=body, headers=auth(tenant.admin_key))
        assert resp.status_code == 409
        assert resp.json()["error"] == "client_oid_taken"
        assert await _accepted(stack, "mine-1") == 1


async def test_idempotency_key_replays_and_conflicts(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        headers = {**auth(tenant.admin_key), "Idempotency-Key": "abc-1"}
        first = await stack.http.post("/v1/orders", json=order_body("main"), headers=headers)
        again = await stack.http.post("/v1/orders", json=order_body("main"), headers=headers)
        assert first.status_code == again.status_code == 201
        assert again.content == first.content
        assert again.headers["idempotent-replayed"] == "true"
        assert "idempotent-replayed" not in first.headers
        assert await _accepted(stack, first.json()["clientOid"]) == 1
        other = await stack.http.post(
            "/v1/orders", json=order_body("main", size="0.002"), headers=headers
        )
        assert other.status_code == 409
        assert other.json()["error"] == "idempotency_conflict"
        listed = (await stack.http.get("/v1/orders", headers=auth(tenant.admin_key))).json()
        assert len(listed) == 1


async def test_idempotency_key_survives_concurrent_retries(tmp_path: Path) -> None:
    import asyncio

    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        # five first orders at once wait on one first risk load, bounded at 3 s (then refused
        # as stale, fail closed): under CI load it can take longer, which is not this test's
        await warm_risk(stack, tenant.id, tenant.account_id)
        headers = {**auth(tenant.admin_key), "Idempotency-Key": "race"}
        replies = await asyncio.gather(
            *(stack.http.post("/v1/orders", json=order_body("main"), headers=headers)
              for _ in range(5))
        )  # fmt: skip
        assert all(r.status_code in (200, 201) for r in replies), [r.text for r in replies]
        oids = {r.json()["clientOid"] for r in replies}
        assert len(oids) == 1
        assert await _accepted(stack, oids.pop()) == 1


async def test_another_tenants_objects_are_404(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        alice = await stack.add_tenant("alice")
        bob = await stack.add_tenant("bob")
        resp = await stack.http.post(
            "/v1/orders", json=order_body("main"), headers=auth(alice.admin_key)
        )
        order = resp.json()
        bob_h = auth(bob.admin_key)
        for method, url in [
            ("GET", f"/v1/orders/{order['id']}"),
            ("DELETE", f"/v1/orders/{order['id']}"),
            ("DELETE", f"/v1/orders/by-client-oid/{order['clientOid']}"),
            ("GET", f"/v1/balances?account={alice.account_id}"),
        ]:
            resp = await stack.http.request(method, url, headers=bob_h)
            assert resp.status_code == 404, (method, url, resp.text)
            assert resp.json()["error"] == "not_found"
        # bob cannot trade on alice's account by id either
        resp = await stack.http.post("/v1/orders", json=order_body(alice.account_id), headers=bob_h)
        assert resp.status_code == 404
        keys = (await stack.http.get("/v1/keys", headers=auth(alice.admin_key))).json()
        resp = await stack.http.delete(f"/v1/keys/{keys[0]['keyId']}", headers=bob_h)
        assert resp.status_code == 404
        assert (await stack.http.get("/v1/orders", headers=bob_h)).json() == []
        assert (
            await stack.http.get(f"/v1/orders/{order['id']}", headers=auth(alice.admin_key))
        ).status_code == 200


async def test_validation_risk_and_rejection(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path, max_notional="1000") as stack:
        tenant = await stack.add_tenant("t1")
        h = auth(tenant.admin_key)
        resp = await stack.http.post("/v1/orders", json=order_body("main", price=None), headers=h)
        assert resp.status_code == 400
        assert resp.json()["field"] == "price"
        resp = await stack.http.post("/v1/orders", json=order_body("main", size="1"), headers=h)
        assert resp.status_code == 422
        assert resp.json()["error"] == "risk_rejected"
        # every failed check is listed with its stable code and sentence
        failures = resp.json()["failures"]
        assert [f["code"] for f in failures] == ["risk.max_notional"], failures
        assert "1,000" in failures[0]["message"] or "1000" in failures[0]["message"]
        resp = await stack.http.post("/v1/orders", json=order_body("main", side="hold"), headers=h)
        assert resp.status_code == 422
        assert resp.json()["error"] == "invalid_request"
        # a symbol the exchange's current list does not hold: refused by the risk engine with
        # that one reason (not eight "stale data" ones) before any intent exists
        resp = await stack.http.post(
            "/v1/orders", json=order_body("main", symbol="NOPE-USDT"), headers=h
        )
        assert resp.status_code == 422, resp.text
        assert resp.json()["error"] == "risk_rejected"
        (failure,) = resp.json()["failures"]
        assert failure["code"] == "risk.unknown_symbol", failure
        assert "NOPE-USDT is not a spot symbol" in failure["message"], failure
        assert "GET /v1/symbols" in failure["message"], failure
        assert (await stack.http.get("/v1/orders", headers=h)).json() == []
        resp = await stack.http.get("/v1/balances?account=main", headers=h)
        assert {b["currency"] for b in resp.json()} >= {"USDT", "BTC"}


async def test_keys_create_list_revoke(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        manager = await stack.key(tenant, Scope.KEYS_MANAGE, Scope.READ)
        h = auth(manager)
        resp = await stack.http.post(
            "/v1/keys", json={"owner": "bot", "scopes": ["read"]}, headers=h
        )
        assert resp.status_code == 201
        new = resp.json()
        assert new["key"].startswith("kgw_") and new["last4"] == new["key"][-4:]
        assert (await stack.http.get("/v1/orders", headers=auth(new["key"]))).status_code == 200
        listed = (await stack.http.get("/v1/keys", headers=h)).json()
        assert all("key" not in k for k in listed)
        # no escalation: a key cannot grant what it does not hold
        resp = await stack.http.post(
            "/v1/keys", json={"owner": "x", "scopes": ["trade:spot"]}, headers=h
        )
        assert resp.status_code == 403
        resp = await stack.http.post("/v1/keys", json={"owner": "x", "scopes": ["nope"]}, headers=h)
        assert resp.status_code == 400
        resp = await stack.http.post(
            "/v1/keys",
            json={"owner": "x", "scopes": ["read"], "expiresAt": "2030-01-01T00:00:00"},
            headers=h,
        )
        assert resp.status_code == 422, "a timestamp without a zone is ambiguous"
        resp = await stack.http.post(
            "/v1/keys",
            json={"owner": "x", "scopes": ["read"], "expiresAt": "2030-01-01T00:00:00Z"},
            headers=h,
        )
        assert resp.status_code == 201 and resp.json()["expiresAt"].startswith("2030-01-01")
        resp = await stack.http.delete(f"/v1/keys/{new['keyId']}", headers=h)
        assert resp.status_code == 204
        assert (await stack.http.get("/v1/orders", headers=auth(new["key"]))).status_code == 401


async def test_rotate_with_overlap(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        h = auth(tenant.admin_key)
        old = (await stack.http.post("/v1/keys", json={"owner": "bot", "scopes": ["read"]},
                                     headers=h)).json()  # fmt: skip
        resp = await stack.http.post(
            f"/v1/keys/{old['keyId']}/rotate", json={"overlapSeconds": 3600}, headers=h
        )
        assert resp.status_code == 201, resp.text
        new = resp.json()
        assert new["scopes"] == ["read"] and new["owner"] == "bot"
        assert (await stack.http.get("/v1/orders", headers=auth(old["key"]))).status_code == 200
        assert (await stack.http.get("/v1/orders", headers=auth(new["key"]))).status_code == 200
        resp = await stack.http.post(
            f"/v1/keys/{new['keyId']}/rotate", json={"overlapSeconds": 0}, headers=h
        )
        newest = resp.json()
        assert (await stack.http.get("/v1/orders", headers=auth(new["key"]))).status_code == 401
        assert (await stack.http.get("/v1/orders", headers=auth(newest["key"]))).status_code == 200
        bob = await stack.add_tenant("bob")
        resp = await stack.http.post(
            f"/v1/keys/{newest['keyId']}/rotate", json={}, headers=auth(bob.admin_key)
        )
        assert resp.status_code == 404


async def test_background_reconciler_settles_a_lost_response(tmp_path: Path) -> None:
    import asyncio

    async with gateway_stack(tmp_path, timeout_s=0.3, grace_s=0.5) as stack:
        tenant = await stack.add_tenant("t1")
        stack.services.reconcile_every_s = 0.1
        stack.services.start()
        await warm_risk(stack, tenant.id, tenant.account_id)  # 0.3 s exchange timeout, under load
        await stack.sim_admin(
            "POST",
            "/_sim/faults",
            {"kind": "lose_response", "pathPrefix": "/api/v1/hf/orders", "method": "POST"},
        )
        h = auth(tenant.admin_key)
        resp = await stack.http.post("/v1/orders", json=order_body("main"), headers=h)
        assert resp.status_code == 202, resp.text
        assert resp.json()["state"] == "unknown"
        order_id = resp.json()["id"]
        for _ in range(50):
            await asyncio.sleep(0.1)
            listed = (await stack.http.get("/v1/orders", headers=h)).json()
            if listed[0]["state"] != "unknown":
                break
        assert listed[0]["id"] == order_id
        assert listed[0]["state"] == "open", "the order executed; the reconciler found it"
        assert listed[0]["exchangeOrderId"]
        assert await _accepted(stack, listed[0]["clientOid"]) == 1


@pytest.mark.parametrize("hf", [True, False])
async def test_orders_placed_behind_the_gateways_back_are_adopted(tmp_path: Path, hf: bool) -> None:
    from decimal import Decimal

    from kcgateway.exchange.rest import KuCoinClient
    from kcgateway.exchange.transport import AiohttpTransport
    from kcgateway.kucoin.signing import Credentials
    from kcgateway.secret import Secret

    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1", hf=hf)
        h = auth(tenant.admin_key)
        await stack.http.post("/v1/orders", json=order_body("main"), headers=h)
        acct = tenant.sim_account
        creds = Credentials(acct["apiKey"], Secret(acct["secret"]), Secret(acct["passphrase"]))
        async with KuCoinClient(
            creds, transport=AiohttpTransport(), hosts=stack.sim.hosts
        ) as client:
            family = client.spot.hf if hf else client.spot.classic
            await family.place(
                "BTC-USDT", "buy", price=Decimal(59000), size=Decimal("0.001"), client_oid="rogue1"
            )
        assert await stack.services.orders.adopt_all() == 1
        assert await stack.services.orders.adopt_all() == 0, "adopted once"
        listed = (await stack.http.get("/v1/orders", headers=h)).json()
        rogue = [o for o in listed if o["clientOid"] == "rogue1"]
        assert len(rogue) == 1 and rogue[0]["state"] == "open" and rogue[0]["exchangeOrderId"]
        from kcgateway.store.ledger import AuditRepository

        async with stack.services.db.read() as session:
            actions = [r.action for r in await AuditRepository(session).all()]
        assert "order.adopted" in actions


async def test_a_retry_after_the_gateway_died_mid_request_resolves_to_the_intent(
    tmp_path: Path,
) -> None:
    """A request killed between ``sent`` and the answer leaves no idempotency record; the
    client's retry with the same key must answer that intent (no 409, no hang, no 2nd order)."""
    import asyncio
    from datetime import timedelta

    async with gateway_stack(tmp_path, timeout_s=5.0) as stack:
        tenant = await stack.add_tenant("t1")
        await stack.sim_admin(
            "POST",
            "/_sim/faults",
            {"kind": "latency", "latencyMs": 600, "pathPrefix": "/api/v1/hf/orders"},
        )
        headers = {**auth(tenant.admin_key), "Idempotency-Key": "killed-1"}
        first = asyncio.ensure_future(
            stack.http.post("/v1/orders", json=order_body("main"), headers=headers)
        )
        # wait until its intent is sent (the risk engine's first load of the account may take a
        # while on a loaded machine), not a fixed 0.2 s
        for _ in range(500):
            listed = await stack.http.get("/v1/orders", headers=auth(tenant.admin_key))
            if any(o["state"] == "sent" for o in listed.json()):
                break
            await asyncio.sleep(0.02)
        assert not first.done(), "the exchange call is still out (600 ms latency)"
        first.cancel()  # the process "dies" while the exchange call is out
        with pytest.raises(asyncio.CancelledError):
            await first
        retry = await stack.http.post("/v1/orders", json=order_body("main"), headers=headers)
        assert retry.status_code == 200, retry.text
        intent = retry.json()
        assert intent["state"] == "sent", "the dead request's intent, awaiting reconciliation"
        stack.services.orders.reconciler.settle_after = timedelta(0)
        for _ in range(100):  # the delayed order lands; the reconciler finds it by clientOid
            if await stack.services.orders.reconcile() == 0:
                break
            await asyncio.sleep(0.05)
        got = await stack.http.get(f"/v1/orders/{intent['id']}", headers=auth(tenant.admin_key))
        assert got.json()["state"] == "open"
        again = await stack.http.post("/v1/orders", json=order_body("main"), headers=headers)
        assert again.status_code == 200 and again.json()["id"] == intent["id"]
        assert await _accepted(stack, intent["clientOid"]) == 1
        listed = (await stack.http.get("/v1/orders", headers=auth(tenant.admin_key))).json()
        assert len(listed) == 1


async def test_another_order_reusing_a_client_oid_under_a_new_key_is_refused(
    tmp_path: Path,
) -> None:
    """A keyed request whose clientOid names ANOTHER order must not be answered with that
    order as if it were its own (the client would believe a different order was placed)."""
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        body = order_body("main", clientOid="reused-1")
        first = await stack.http.post(
            "/v1/orders", json=body, headers={**auth(tenant.admin_key), "Idempotency-Key": "k1"}
        )
        assert first.status_code == 201, first.text
        other = await stack.http.post(
            "/v1/orders",
            json={**body, "size": "0.002"},
            headers={**auth(tenant.admin_key), "Idempotency-Key": "k2"},
        )
        assert other.status_code == 409, other.text
        assert other.json()["error"] == "client_oid_taken"
        same = await stack.http.post(  # the same order under a new key is still that intent
            "/v1/orders", json=body, headers={**auth(tenant.admin_key), "Idempotency-Key": "k3"}
        )
        assert same.status_code == 200 and same.json()["id"] == first.json()["id"]
        assert await _accepted(stack, "reused-1") == 1
